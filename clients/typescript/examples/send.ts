// Sends one message and reads it back through the typed client; prints both answers as JSON.
// IEP_URL and IEP_KEY say where and as whom (tests/clients/test_generated_clients.py runs it).
import { iepClient } from "../src/index.js";

declare const process: { env: Record<string, string | undefined> }; // Node's, without @types/node

const client = iepClient(process.env.IEP_URL ?? "http://127.0.0.1:8000", process.env.IEP_KEY ?? "");
const sent = await client.POST("/v1/messages", {
  body: {
    from: { email: "app@product.example", name: "Typed" },
    to: ["ts@example.com"],
    subject: "From TypeScript",
    textBody: "typed",
  },
});
if (sent.data === undefined) {
  throw new Error(`send refused: ${JSON.stringify(sent.error)}`);
}
const got = await client.GET("/v1/messages/{message_id}", {
  params: { path: { message_id: sent.data.messageId } },
});
console.log(JSON.stringify({ sent: sent.data, got: got.data }));
