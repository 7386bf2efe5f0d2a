import { CheckInputError, parseTolerances } from '../../../lib/consistency';

const message = (text: string): string => {
  try {
    parseTolerances(text);
  } catch (err) {
    if (err instanceof CheckInputError) return err.message;
    throw err;
  }
  throw new Error(`expected ${text} to be refused`);
};

test('col=abs:x and col=rel:y, comma-separated', () => {
  expect(parseTolerances('amount=abs:0.01, avg=rel:1e-9,n=abs:0')).toEqual([
    { column: 'amount', kind: 'abs', value: 0.01 },
    { column: 'avg', kind: 'rel', value: 1e-9 },
    { column: 'n', kind: 'abs', value: 0 },
  ]);
  expect(parseTolerances('')).toEqual([]);
});

test.each([
  ['amount=abz:1', '--tolerance "amount=abz:1": expected abs:<number> or rel:<number>'],
  ['amount', '--tolerance "amount": expected <column>=abs:<number> or <column>=rel:<number>'],
  ['amount=abs', '--tolerance "amount=abs": expected <column>=abs:<number> or <column>=rel:<number>'],
  ['amount=abs:', '--tolerance "amount=abs:": expected a finite number >= 0, got ""'],
  ['amount=abs:ten', '--tolerance "amount=abs:ten": expected a finite number >= 0, got "ten"'],
  ['amount=rel:-1', '--tolerance "amount=rel:-1": expected a finite number >= 0, got "-1"'],
  ['amount=rel:Infinity', '--tolerance "amount=rel:Infinity": expected a finite number >= 0, got "Infinity"'],
  ['=abs:1', '--tolerance "=abs:1": expected <column>=abs:<number> or <column>=rel:<number>'],
  ['a=abs:1,a=rel:1', 'invalid --tolerance: [1].column: column "a" has two tolerances'],
])('%j is refused: %s', (text, expected) => {
  expect(message(text)).toBe(expected);
});
