import type { DomainModule } from '../index.ts';
import { pocketCommands } from './commands.ts';
import { routes } from './rest.ts';
import { createPocketGroup, findPocketGroup } from './service.ts';

/** The legacy document's example group, so its curl example runs against a demo server. */
export const DEMO_POCKET_GROUP = { slug: 'my-pocket-group', name: 'Demo pocket group', cap: 1_000_000_000n } as const;

export const pocketsModule: DomainModule = {
  name: 'pockets',
  routes,
  commands: pocketCommands,
  seedDemo: async (db, merchant) => {
    if (await findPocketGroup(db, merchant.merchantId, DEMO_POCKET_GROUP.slug)) return;
    await createPocketGroup(db, { merchantId: merchant.merchantId, ...DEMO_POCKET_GROUP }, new Date());
  },
};
