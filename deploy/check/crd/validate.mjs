// Validates custom resources against their published API types, offline.
//
//   node validate.mjs objects.json   (a JSON array of rendered objects)
//
// Prints one JSON line per object: {"ref", "status": "ok"|"invalid"|"skipped", "messages"}.
// Two checks per object whose group has a published model package:
//  1. the package's JSON-schema validator (types, enums, patterns, required fields);
//  2. TypeScript's excess-property check against the package's interfaces, which the
//     validator lacks: a misspelt field (`instancez: 3`) fails here.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const here = path.dirname(fileURLToPath(import.meta.url));

// API group → the npm package publishing its types, generated from the project's own
// Go API (package.json pins the version).
const MODELS = {
  "postgresql.cnpg.io": "@kubernetes-models/cloudnative-pg",
  "cert-manager.io": "@kubernetes-models/cert-manager",
};
const SKIP_REASON = {
  "barmancloud.cnpg.io":
    "the Barman Cloud plugin publishes its CRD schema only with its GitHub releases, which CI cannot reach; no registry package carries it",
};

const objects = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const results = [];
const typed = [];
for (const [i, o] of objects.entries()) {
  const ref = `${o.kind}/${o.metadata?.name}`;
  const group = o.apiVersion.includes("/") ? o.apiVersion.split("/")[0] : "";
  const pkg = MODELS[group];
  if (!pkg) {
    results.push({ ref, status: "skipped", messages: [SKIP_REASON[group] ?? `no published schema known for ${o.apiVersion}`] });
    continue;
  }
  const spec = `${pkg}/${o.apiVersion}/${o.kind}`;
  let mod;
  try {
    mod = await import(spec);
  } catch {
    results.push({ ref, status: "invalid", messages: [`${pkg} has no kind ${o.kind} in ${o.apiVersion}`] });
    continue;
  }
  const messages = [];
  try {
    new mod[o.kind](o).validate();
  } catch (e) {
    messages.push(e.message);
  }
  results.push({ ref, status: messages.length ? "invalid" : "ok", messages });
  typed.push({ index: results.length - 1, spec, kind: o.kind, object: o, id: i });
}

// One TypeScript file with every typed object as an annotated literal.
if (typed.length) {
  const file = path.join(here, ".objects.ts");
  const lines = [];
  for (const t of typed) {
    lines.push(`import type { I${t.kind} as T${t.id} } from "${t.spec}";`);
    lines.push(`export const o${t.id}: T${t.id} = ${JSON.stringify(t.object)};`);
  }
  fs.writeFileSync(file, lines.join("\n") + "\n");
  try {
    const program = ts.createProgram([file], {
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      target: ts.ScriptTarget.ES2022,
    });
    for (const d of ts.getPreEmitDiagnostics(program)) {
      const text = ts.flattenDiagnosticMessageText(d.messageText, " ");
      const line = d.file ? d.file.getLineAndCharacterOfPosition(d.start ?? 0).line : -1;
      // Line 2k+1 (0-based) holds typed[k]'s literal.
      const t = line >= 0 ? typed[Math.floor(line / 2)] : undefined;
      const r = t ? results[t.index] : { ref: "(typescript)", status: "invalid", messages: [] };
      if (!t) results.push(r);
      r.status = "invalid";
      r.messages.push(text);
    }
  } finally {
    fs.rmSync(file, { force: true });
  }
}
for (const r of results) console.log(JSON.stringify(r));
