import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { userWorkflowFiles, UserWorkflowsError, writeUserEntry } from '../../../workers/user-workflows';

const dirs: string[] = [];
function folder(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-user-wf-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  return dir;
}
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

describe('userWorkflowFiles', () => {
  test("a folder's index is its workflows", () => {
    const dir = folder({ 'index.ts': '', 'other.ts': '' });
    expect(userWorkflowFiles([dir])).toEqual([path.join(dir, 'index.ts')]);
  });

  test('without an index, every source file in order, declarations and tests left out', () => {
    const dir = folder({ 'b.ts': '', 'a.js': '', 'a.d.ts': '', 'a.test.ts': '', 'notes.md': '' });
    expect(userWorkflowFiles([dir])).toEqual([path.join(dir, 'a.js'), path.join(dir, 'b.ts')]);
  });

  test('a file is taken as is; a missing path and a folder without workflows are named', () => {
    const dir = folder({ 'x.ts': '', 'readme.md': '' });
    expect(userWorkflowFiles([path.join(dir, 'x.ts')])).toEqual([path.join(dir, 'x.ts')]);
    expect(() => userWorkflowFiles(['/no/such/dir'])).toThrow(
      new UserWorkflowsError('--workflows /no/such/dir: no such file or folder'),
    );
    const empty = folder({ 'readme.md': '' });
    expect(() => userWorkflowFiles([empty])).toThrow(`--workflows ${empty}: no .ts or .js workflow file in it`);
  });
});

describe('writeUserEntry', () => {
  // The entry is plain CommonJS: Node can load it as the bundler does, with plain JS modules.
  const load = (entry: string) => {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- the generated entry is CommonJS, loaded as the bundler loads it
      return require(entry) as Record<string, unknown>;
    } finally {
      fs.rmSync(path.dirname(entry), { recursive: true, force: true });
    }
  };

  test("merges Sluice's workflows with every exported function of the user files", () => {
    const dir = folder({
      'sluice.js': 'exports.batchPipelineWorkflow = () => 1; exports.AdmissionErrors = {};',
      'mine.js': 'exports.myWorkflow = () => 2; exports.NOT_A_WORKFLOW = 3;',
    });
    const merged = load(writeUserEntry(path.join(dir, 'sluice.js'), [path.join(dir, 'mine.js')]));
    expect(Object.keys(merged).sort()).toEqual(['AdmissionErrors', 'batchPipelineWorkflow', 'myWorkflow']);
    expect((merged.myWorkflow as () => number)()).toBe(2);
  });

  test("refuses a user workflow named like one of Sluice's or of an earlier file, naming both", () => {
    const dir = folder({
      'sluice.js': 'exports.batchPipelineWorkflow = () => 1;',
      'clash.js': 'exports.batchPipelineWorkflow = () => 2;',
      'a.js': 'exports.w = () => 1;',
      'b.js': 'exports.w = () => 2;',
    });
    expect(() => load(writeUserEntry(path.join(dir, 'sluice.js'), [path.join(dir, 'clash.js')]))).toThrow(
      `workflow batchPipelineWorkflow of ${path.join(dir, 'clash.js')} is already defined by Sluice: rename it`,
    );
    expect(() =>
      load(writeUserEntry(path.join(dir, 'sluice.js'), [path.join(dir, 'a.js'), path.join(dir, 'b.js')])),
    ).toThrow(`workflow w of ${path.join(dir, 'b.js')} is already defined by ${path.join(dir, 'a.js')}: rename it`);
  });
});
