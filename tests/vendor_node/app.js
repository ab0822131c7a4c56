// The vendor's Node.js example "Programmatically fetch Fauna Logs", copied as-is from the
// how-to page captured in /work/shared/fauna-api/001_30a14ae2d9113987.txt (Fauna docs, "Fauna
// Logs" how-to, section "Example: Programmatically fetch Fauna Logs"). Edits, and nothing else:
//   1. baseURL reads FAUNA_BASE_URL (default: the page's "https://account.fauna.com"), so the
//      test can point it at the emulator on loopback.
//   2. maxRuntimeMs reads FAUNA_MAX_RUNTIME_MS and the poll sleep reads FAUNA_POLL_MS (defaults:
//      the page's 300 * 1000 and 1000), so a test run is bounded and short.
// The rest, including the catch that logs and exits 0, is the vendor's code.
require('dotenv').config();
const axios = require('axios').default;
const winston = require('winston');
const { DateTime, Duration } = require("luxon");

const faunaClient = axios.create({
  baseURL: process.env["FAUNA_BASE_URL"] || "https://account.fauna.com", // edit 1
  timeout: 10000,
});

const logger = winston.createLogger({
  level: 'info',
  format: winston.format.json(),
  defaultMeta: { service: 'querylogs-demo' },
  transports: [
    new winston.transports.Console({
      level: "debug",
      handleExceptions: true,
      format: winston.format.json(),
    }),
  ],
});

const today = DateTime.now().toISO();
const yesterday = DateTime.now().minus(Duration.fromISO("P1D")).toISO();

async function getLogs() {
  if (process.env["ACCOUNT_KEY_SECRET"] === undefined) {
    throw new Error("You must set ACCOUNT_KEY_SECRET in your local environment to run this program!");
  }

  try {
    const headers = { Authorization: `Bearer ${process.env["ACCOUNT_KEY_SECRET"]}` };
    const { data: querylogRequest } = await faunaClient.post(
      "/api/v1/logs?type=query",
      { region_group: "us-std", time_start: yesterday, time_end: today},
      { headers }
    );
    logger.info(querylogRequest);
    return await pollResults(querylogRequest, headers, "us-std");
  } catch (error) {
    logger.error("Error in getLogs:", error);
    throw error;
  }
}

async function pollResults(
  querylogRequest,
  headers,
  region_group,
) {
  let result;
  const maxRuntimeMs = Number(process.env["FAUNA_MAX_RUNTIME_MS"] || 300 * 1000); // edit 2
  const time_start = DateTime.now();
  do {
    try {
      ({ data: result } = await faunaClient.get(
        `/api/v1/logs/${querylogRequest.request_id}?regionGroup=${region_group}&type=query`,
        { headers }
      ));
      await new Promise((resolve) => setTimeout(resolve, Number(process.env["FAUNA_POLL_MS"] || 1000))); // edit 2
      logger.info(`State: ${result.state}`);
    } catch (error) {
      logger.error("Error in polling:", error);
      throw error;
    }
  } while (
    DateTime.now().diff(time_start).as('milliseconds') < maxRuntimeMs &&
    !["Complete", "DoesNotExist", "Failed", "TimedOut"].includes(result.state)
  );
  logger.info(result);
  return result;
}

getLogs()
  .then(() => logger.info("Thanks for trying out Fauna Logs! Please give us any and all feedback!"))
  .catch(error => logger.error("An error occurred:", error));
