/** Where an evaluator writes: one call per line (tests capture them). */
export interface EvalIo {
  stdout(line: string): void;
  stderr(line: string): void;
}

/** The process's own stdout and stderr. */
export const processIo: EvalIo = {
  stdout: (line) => process.stdout.write(`${line}\n`),
  stderr: (line) => process.stderr.write(`${line}\n`),
};
