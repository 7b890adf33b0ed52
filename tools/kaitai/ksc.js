// Compile a .ksy file with the npm kaitai-struct-compiler (its JavaScript build has no command line).
// usage: node ksc.js LANGUAGE FILE.ksy OUTDIR
const fs = require("fs");
const path = require("path");
const yaml = require("js-yaml");
const compiler = require("kaitai-struct-compiler");

const [lang, ksyPath, outDir] = process.argv.slice(2);
const spec = yaml.load(fs.readFileSync(ksyPath, "utf8"));
compiler.compile(lang, spec, null, false).then((files) => {
  for (const [name, text] of Object.entries(files)) {
    fs.writeFileSync(path.join(outDir, name), text);
    console.log(name);
  }
}).catch((e) => {
  console.error(String(e && e.stack ? e.stack : e));
  process.exit(1);
});
