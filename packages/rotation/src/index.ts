/** @cdn-origin-guard/rotation: placeholder until the rotation handler lands (issue 13). @packageDocumentation */
export {};
