// Two JavaScript functions reading the clock a known number of times each (argv: A B), for
// tests/e2e_jit: every performance.now() is one clock_gettime, sampled with the JS caller named.
function hotA(n) { let s = 0; for (let i = 0; i < n; i++) s += performance.now(); return s; }
function hotB(n) { let s = 0; for (let i = 0; i < n; i++) s += performance.now(); return s; }
const a = parseInt(process.argv[2], 10), b = parseInt(process.argv[3], 10);
console.log(hotA(a) > 0 && hotB(b) > 0 ? "ok" : "zero");
