/** Signed, durable job webhooks: subscriptions at enqueue, an outbox filled when jobs end, a delivery loop. */
export { startWebhookDelivery, backoffMs, type WebhookDelivery } from './delivery.ts'
export {
  WEBHOOK_EVENTS,
  DEFAULT_WEBHOOK_EVENTS,
  insertSubscriptions,
  readWebhookState,
  webhookStateFromRow,
  WEBHOOK_STATE_COLUMNS,
  WEBHOOK_STATE_JOIN,
  type WebhookStateRow,
  type WebhookEvent,
  type WebhookState,
  type WebhookSubscription,
} from './outbox.ts'
export { signWebhook, verifyWebhook, webhookHeaders, SIGNATURE_HEADER, TIMESTAMP_HEADER, EVENT_ID_HEADER } from './signing.ts'
