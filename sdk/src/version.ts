/** This package's version (equal to package.json's; a test checks) and the wire protocol it speaks. */
export const SDK_VERSION = '0.3.0';
