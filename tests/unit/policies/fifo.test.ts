import { createPolicy } from '../../../scheduler-policies';
import { deepFreeze, grant, MINUTE, req, snapshot, T0 } from './helpers';

const fifo = createPolicy({ kind: 'fifo' });

describe('fifo policy', () => {
  it('admits in submission order and lets the head block everything behind it', () => {
    const r1 = req('r1', { cpu: 2 }, { submittedAt: T0 + 1 });
    const r2 = req('r2', { cpu: 5 }, { submittedAt: T0 + 2 });
    const r3 = req('r3', { cpu: 1 }, { submittedAt: T0 + 3 });
    // Pending deliberately out of order: the policy orders by submittedAt, not by position.
    const snap = deepFreeze(snapshot({ cpu: 10 }, [r3, r2, r1], [grant(req('g', { cpu: 6 }))]));
    expect(fifo.decide(snap)).toEqual({
      admit: ['r1'],
      preempt: [],
      waiting: { r2: 'head of the queue: needs 5 cpu, 2 free', r3: 'behind head r2: needs 5 cpu, 2 free' },
    });
  });

  it('names every short dimension of the head', () => {
    const head = req('r17', { cpu: 10, memoryMb: 4096 });
    const snap = snapshot({ cpu: 16, memoryMb: 8192 }, [head], [grant(req('g', { cpu: 12, memoryMb: 6144 }))]);
    expect(fifo.decide(snap).waiting).toEqual({
      r17: 'head of the queue: needs 10 cpu, 4 free; 4096 memoryMb, 2048 free',
    });
  });

  it('never admits a request larger than the pool, says so, and does not let it block the queue', () => {
    const huge = req('huge', { cpu: 12 }, { submittedAt: T0 });
    const gpu = req('gpu', { cpu: 1, gpu: 1 }, { submittedAt: T0 + 1 });
    const small = req('small', { cpu: 2 }, { submittedAt: T0 + 2 });
    const decision = fifo.decide(snapshot({ cpu: 8 }, [huge, gpu, small]));
    expect(decision.admit).toEqual(['small']);
    expect(decision.waiting).toEqual({
      huge: 'demand cpu 12 exceeds pool capacity 8',
      gpu: 'demand gpu 1 exceeds pool capacity 0 (the pool has no gpu)',
    });
  });

  it('counts a dimension missing from a demand as 0', () => {
    const snap = snapshot({ cpu: 4, memoryMb: 0 }, [req('r', { cpu: 4 })]);
    expect(fifo.decide(snap).admit).toEqual(['r']);
  });

  it('breaks submission-time ties by snapshot order', () => {
    const a = req('a', { cpu: 3 });
    const b = req('b', { cpu: 3 });
    expect(fifo.decide(snapshot({ cpu: 4 }, [b, a])).admit).toEqual(['b']);
    expect(fifo.decide(snapshot({ cpu: 4 }, [a, b])).admit).toEqual(['a']);
  });

  it('admits nothing on an over-committed pool (resized below its running grants)', () => {
    const snap = snapshot({ cpu: 4 }, [req('r', { cpu: 1 })], [grant(req('g', { cpu: 6 }))]);
    expect(fifo.decide(snap)).toEqual({
      admit: [],
      preempt: [],
      waiting: { r: 'head of the queue: needs 1 cpu, 0 free' },
    });
  });

  it('fills the pool exactly with fractional demands despite rounding', () => {
    const pending = [0, 1, 2].map((k) => req(`r${k}`, { cpu: 0.1 }, { submittedAt: T0 + k * MINUTE }));
    expect(fifo.decide(snapshot({ cpu: 0.3 }, pending)).admit).toEqual(['r0', 'r1', 'r2']);
  });
});
