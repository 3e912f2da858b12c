// Validate an AsyncAPI document with the official parser (@asyncapi/parser).
// argv[2]: the document's path. stdout: {"valid": bool, "diagnostics": [{severity, code, message, path}]}
// (severity 0 = error, 1 = warning, 2 = information, 3 = hint).
import { readFileSync } from "node:fs";
import { Parser } from "@asyncapi/parser";

const parser = new Parser();
const { document, diagnostics } = await parser.parse(readFileSync(process.argv[2], "utf8"));
process.stdout.write(
  JSON.stringify({
    valid: document !== undefined,
    diagnostics: diagnostics.map((d) => ({
      severity: d.severity,
      code: d.code,
      message: d.message,
      path: d.path.join("/"),
    })),
  }),
);
