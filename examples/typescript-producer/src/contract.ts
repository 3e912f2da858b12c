// Contract v1 in TypeScript: the event types and a validator built from the committed JSON
// Schema (schemas/payment-event.v1.schema.json). The schema accepts exactly what the
// points consumer accepts, so an event that passes here is never dead-lettered as invalid.
import { readFileSync } from "node:fs";
import { Ajv2020 } from "ajv/dist/2020.js";
import { default as addFormats } from "ajv-formats";

export type Brand = "visa" | "quicpay";

interface EventBase {
  schema_version: 1;
  event_id: string; // the idempotency key: stable across your retries
  occurred_at: string; // RFC 3339 with offset, at most microseconds
  brand: Brand;
  payment_id: string;
  account_id: string;
  amount: number; // integer JPY, 1 .. 10,000,000
  currency: "JPY";
  merchant: { name: string; mcc: string; country: string };
}

export type PaymentEvent =
  | (EventBase & { event_type: "authorization"; approved?: boolean })
  | (EventBase & { event_type: "authorization_reversal" })
  | (EventBase & { event_type: "clearing"; final?: boolean })
  | (EventBase & { event_type: "refund" });

const SCHEMA_FILE =
  process.env.POINTS_SCHEMA_FILE ??
  new URL("../../../schemas/payment-event.v1.schema.json", import.meta.url).pathname;

export function contractValidator(schemaFile: string = SCHEMA_FILE): (event: unknown) => string | null {
  const ajv = new Ajv2020({ strict: true, allErrors: true });
  addFormats.default(ajv);
  const validate = ajv.compile(JSON.parse(readFileSync(schemaFile, "utf8")));
  return (event) => (validate(event) ? null : ajv.errorsText(validate.errors));
}
