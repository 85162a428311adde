import type { DomainModule } from '../index.ts';
import { walletCommands } from './commands.ts';
import { seedDemoWallets } from './demo.ts';
import { routes } from './rest.ts';

export const walletsModule: DomainModule = {
  name: 'wallets',
  routes,
  seedDemo: seedDemoWallets,
  commands: walletCommands,
  // The digipay envelope; the HTTP status stands in for the numeric code, which has none for these.
  refusals: {
    paths: ['/digipay/'],
    body: (refusal) => ({ success: 0, error: [refusal.status], data: { message: refusal.code === 'RATE_LIMITED' ? 'TOO_MANY_REQUESTS' : refusal.code } }),
  },
};
