// `express4` is an npm alias of express@4 installed for the tests; it ships no types of its
// own. The adapter only relies on the API shared by Express 4 and 5, so the v5 types do.
declare module 'express4' {
  import express from 'express';
  export default express;
}
