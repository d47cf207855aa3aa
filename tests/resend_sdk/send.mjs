// Resend's official Node SDK, unmodified: only the base URL (RESEND_BASE_URL) and the key (RESEND_API_KEY) point
// at IEP. Sends one email with an attachment and an idempotency key (twice), a batch, reads one back, and triggers
// one error; prints what the SDK returned as JSON for tests/resend_sdk/test_node_sdk.py.
import { Resend } from "resend";

const resend = new Resend(process.env.RESEND_API_KEY);
const single = {
  from: "Acme <app@product.example>",
  to: ["node@example.com"],
  subject: "From Node",
  html: "<p>Hello from <b>Node</b></p>",
  replyTo: "help@product.example",
  tags: [{ name: "source", value: "node" }],
  attachments: [{ filename: "data.csv", content: Buffer.from("a,b\n1,2\n") }],
};
const first = await resend.emails.send(single, { idempotencyKey: "node-1" });
const again = await resend.emails.send(single, { idempotencyKey: "node-1" });
const batch = await resend.batch.send(
  [0, 1].map((n) => ({ from: "app@product.example", to: `batch${n}@example.com`, subject: `B${n}`, text: "T" })),
  { idempotencyKey: "node-batch-1" },
);
const got = await resend.emails.get(first.data.id);
const refused = await resend.emails.send({ ...single, from: "app@unknown.example" });
console.log(JSON.stringify({ first, again, batch, got, refused }));
