#!/usr/bin/env node
// The x-logout command (npx @x/cli, bunx @x/cli).
import { main } from "./cli.ts";
import { programArgs, runProcess } from "./host.ts";

await runProcess(programArgs(), main);
