/** @cdn-origin-guard/audit: placeholder until the audit lands (issue 11). @packageDocumentation */
export {};
