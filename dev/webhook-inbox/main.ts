/** The demo webhook inbox on WEBHOOK_INBOX_PORT (default 7072), verifying with SLOTWISE_DEV_WEBHOOK_SECRET. */
import { startWebhookInbox } from './inbox.js';

const inbox = await startWebhookInbox({
  port: Number(process.env.WEBHOOK_INBOX_PORT ?? 7072),
  ...(process.env.SLOTWISE_DEV_WEBHOOK_SECRET ? { secret: process.env.SLOTWISE_DEV_WEBHOOK_SECRET } : {}),
});
console.log(`Webhook inbox ready at ${inbox.url}/ (POST ${inbox.url}/hooks/<name>)`);
const stop = () => void inbox.close().then(() => process.exit(0));
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
