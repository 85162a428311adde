/** Runs the sandbox gateway: `tsx src/modules/invoices/gateways/sandbox-main.ts [port] [host]`. */
import { startSandboxGateway } from './sandbox.ts';

const [portArgument = '4100', host = '127.0.0.1'] = process.argv.slice(2);
const port = Number(portArgument);
if (!/^\d+$/.test(portArgument) || port > 65_535) {
  console.error(`usage: sandbox-main [port (default 4100)] [host (default 127.0.0.1)]; got port "${portArgument}"`);
  process.exit(2);
}

const sandbox = await startSandboxGateway({ port, host });
console.log(`Sandbox gateway listening on ${sandbox.url}`);
console.log(`  Zarinpal: baseUrl ${sandbox.url}, any UUID as merchantId`);
console.log(`  Shepa:    baseUrl ${sandbox.url}, apiKey "sandbox"`);
console.log('  Scenarios: put "[sandbox:<scenario>]" in the description (see sandbox.ts).');

let stopping = false;
function stop(signal: NodeJS.Signals): void {
  if (stopping) return;
  stopping = true;
  console.log(`${signal}: stopping the sandbox gateway`);
  sandbox.close().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
