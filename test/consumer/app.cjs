// CommonJS: on Node >= 20.19, require() loads the ESM build (the package has no top-level await).
const { resNet, prngKey } = require('tsnn');
const model = resNet({ nIn: 1, nClasses: 10 });
const init = model.init(prngKey(0), [28, 28, 1]);
console.log(JSON.stringify({ require: 'ok', outShape: init.outShape }));
