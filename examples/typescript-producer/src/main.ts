// node dist/main.js PAYMENT_ID: an authorization and its final clearing, as a payment
// service would publish them. Configuration: POINTS_TOPIC_ARN, AWS_REGION and the standard
// AWS credentials (AWS_ENDPOINT_URL points the SDK at a local emulator).
import { SNSClient } from "@aws-sdk/client-sns";
import { InvalidEvent, publishEvent } from "./publish.js";
import type { PaymentEvent } from "./contract.js";

const paymentId = process.argv[2] ?? "pay-ts-1";
const topicArn = process.env.POINTS_TOPIC_ARN;
if (!topicArn) {
  console.error("POINTS_TOPIC_ARN is not set");
  process.exit(2);
}

const common = {
  schema_version: 1,
  brand: "visa",
  payment_id: paymentId,
  account_id: "acct-ts",
  amount: 1200,
  currency: "JPY",
  merchant: { name: "LAWSON", mcc: "5411", country: "JP" },
} as const;

const events: PaymentEvent[] = [
  { ...common, event_type: "authorization", event_id: `${paymentId}-auth`, occurred_at: new Date("2026-11-21T01:00:00Z").toISOString(), approved: true },
  { ...common, event_type: "clearing", event_id: `${paymentId}-clear`, occurred_at: "2026-11-22T10:00:00+09:00", final: true },
];

const sns = new SNSClient({});
try {
  for (const event of events) {
    console.log(`${event.event_id} ${await publishEvent(sns, topicArn, event)}`);
  }
} catch (error) {
  console.error(error instanceof InvalidEvent ? `invalid event ${error.message}` : String(error));
  process.exit(1);
}
