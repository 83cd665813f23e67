// Edge bundles import the kernels as a compiled module (scripts/build.ts rewrites the
// specifier per platform: './mobileid.wasm' for workerd, './mobileid.wasm?module' for Vercel).
declare module '*.wasm' {
  const module: WebAssembly.Module;
  export default module;
}
