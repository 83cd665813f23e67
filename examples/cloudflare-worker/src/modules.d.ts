declare module '*.mobileid' {
  const bytes: ArrayBuffer;
  export default bytes;
}
