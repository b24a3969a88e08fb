// GET /v1/records with an API key (Node 18 or later). On 429, wait the Retry-After seconds
// and try again.
//   API_KEY=demo_... node request.mjs       (API_URL: default http://127.0.0.1:3000/v1/records)
const url = process.env.API_URL ?? "http://127.0.0.1:3000/v1/records";
const headers = { Authorization: `Bearer ${process.env.API_KEY ?? ""}` };

for (let attempt = 1; attempt <= 5; attempt++) {
  const response = await fetch(url, { headers });
  if (response.status === 429) {
    const retryAfter = Number(response.headers.get("Retry-After") ?? 1);
    console.error(`429: retrying in ${retryAfter}s (Retry-After)`);
    await response.body?.cancel();
    await new Promise((resolve) => setTimeout(resolve, retryAfter * 1000));
    continue;
  }
  console.log(`HTTP ${response.status}`);
  console.log(await response.text());
  process.exit(response.ok ? 0 : 1);
}
console.error("still rate-limited after 5 attempts");
process.exit(1);
