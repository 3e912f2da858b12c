// Publishing one event: validate, then SNS Publish with the optional routing attributes.
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import { contractValidator, type PaymentEvent } from "./contract.js";

const problems = contractValidator();

export class InvalidEvent extends Error {}

export async function publishEvent(
  sns: SNSClient,
  topicArn: string,
  event: PaymentEvent,
): Promise<string> {
  const problem = problems(event);
  if (problem !== null) throw new InvalidEvent(`${event.event_id}: ${problem}`);
  const response = await sns.send(
    new PublishCommand({
      TopicArn: topicArn,
      Message: JSON.stringify(event),
      // Subscriptions route on the body; these attributes are an optimisation only.
      MessageAttributes: {
        event_type: { DataType: "String", StringValue: event.event_type },
        schema_version: { DataType: "Number", StringValue: "1" },
        brand: { DataType: "String", StringValue: event.brand },
      },
    }),
  );
  return response.MessageId ?? "";
}
