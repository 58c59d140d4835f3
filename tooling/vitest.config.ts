import { defineConfig } from "vitest/config";
import { preset } from "./vitest.preset.ts";

export default defineConfig(preset);
