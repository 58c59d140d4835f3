#!/usr/bin/env node
// The x-logout command (npx @x/cli, bunx @x/cli).
import process from "node:process";
import { main } from "./cli.ts";
import { runProcess } from "./io.ts";

await runProcess(process.argv.slice(2), main);
