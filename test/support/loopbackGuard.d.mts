/** True for 127.0.0.0/8, ::1, IPv4-mapped loopback and the name "localhost". */
export declare const isLoopbackHost: (host: unknown) => boolean
/** Violations recorded so far (and clears them). */
export declare const takeViolations: () => Array<string>
/** True once the guard has patched this process. */
export declare const guardInstalled: () => boolean
