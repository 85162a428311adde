import type { DomainModule } from '../index.ts';
import { walletCommands } from './commands.ts';
import { seedDemoWallets } from './demo.ts';
import { routes } from './rest.ts';

export const walletsModule: DomainModule = { name: 'wallets', routes, seedDemo: seedDemoWallets, commands: walletCommands };
