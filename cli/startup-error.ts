/**
 * A backing service or a port stopped start-up: the message is the whole story (what, where, what to do) and
 * is printed as one line, without a stack trace.
 */
export class StartupError extends Error {}
