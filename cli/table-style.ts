/** cli-table3 options: colours only on a terminal (CI logs and pipes get plain text). */
export function plain(): { style?: { head: string[]; border: string[] } } {
  return process.stdout.isTTY ? {} : { style: { head: [], border: [] } };
}
