// The Node.js peer of the cold-start benchmark (wfm-relay-bench --cmd): what a Node.js Lambda
// doing the forwarder's job does before its first Runtime API poll -- read and check the
// configuration, import the AWS SDK for JavaScript v3 and build its SQS client -- under the AWS
// Lambda Runtime Interface Client (aws-lambda-ric), which loads this module and then polls
// GET /2018-06-01/runtime/invocation/next (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html).
// It answers an invocation with its event; the benchmark only times spawn -> first poll.
// Installed with infra/node-peer.sh; run as
//   node node_modules/aws-lambda-ric/bin/index.mjs <this dir>/index.handler
import { SQSClient } from "@aws-sdk/client-sqs";

const config = Object.fromEntries(
  ["WFM_URL", "RETRY_QUEUE_URL", "DLQ_URL"].map((k) => {
    const v = process.env[k];
    if (!v) throw new Error(`${k} is required`);
    return [k, v];
  }),
);
new URL(config.WFM_URL);
const sqs = new SQSClient({});

export const handler = async (event) => {
  void sqs;
  return event;
};
