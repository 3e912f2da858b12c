// The ajv 8 + ajv-formats judge of the contract corpus (tests/contract/test_agreement.py).
// stdin: {"schema": <JSON Schema>, "cases": ["<JSON text>", ...]}
// stdout: [true | false, ...] -- whether each case's value is valid, in input order.
// Each text is parsed with JSON.parse, as a Node producer would build its object.
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const { schema, cases } = JSON.parse(Buffer.concat(chunks).toString("utf8"));

// strict: an unknown keyword in our schema is an error here, as it is for a strict producer.
const ajv = new Ajv2020({ strict: true, allErrors: false });
addFormats(ajv);
const validate = ajv.compile(schema);
const verdicts = cases.map((text) => validate(JSON.parse(text)) === true);
process.stdout.write(JSON.stringify(verdicts));
