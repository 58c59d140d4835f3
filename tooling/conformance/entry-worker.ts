// Entry for workerd: a Worker whose fetch runs the suite and answers with its report.
import { runSuite } from "./suite.ts";

export default {
  async fetch(): Promise<Response> {
    return Response.json(await runSuite("workerd"));
  },
};
