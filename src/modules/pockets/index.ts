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
  // DRF's envelope; its throttling message, in the API's language.
  refusals: {
    paths: ['/badje/'],
    body: (refusal) => ({
      detail: refusal.code === 'RATE_LIMITED' ? 'تعداد درخواست‌ها بیش از حد مجاز است؛ کمی بعد دوباره تلاش کنید.' : 'حجم بدنه درخواست بیش از حد مجاز است.',
    }),
  },
  seedDemo: async (db, merchant) => {
    if (await findPocketGroup(db, merchant.merchantId, DEMO_POCKET_GROUP.slug)) return;
    await createPocketGroup(db, { merchantId: merchant.merchantId, ...DEMO_POCKET_GROUP }, new Date());
  },
};
