import { ActivityCancellationType, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../../activities';
import type { ViewCommitResult } from '../../activities/lambda';
import { NON_RETRYABLE_ERROR_TYPES } from '../../lib/errors';
import type { CheckVerdict, ViewProvenance, ViewWrite } from '../../lib/lambda-view';
import type { OutputColumn } from '../../lib/pipelines';

const spark = proxyActivities<Activities>({
  startToCloseTimeout: '1 hour',
  // A worker that dies mid-commit is noticed within this; the retry finds the commit or follows it.
  heartbeatTimeout: '20 seconds',
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: { maximumAttempts: 10, initialInterval: '2 seconds', nonRetryableErrorTypes: [...NON_RETRYABLE_ERROR_TYPES] },
});

/** What a serving view's writer carries across continue-as-new: the provenance, the commits so far. */
export interface ServingViewState {
  provenance: ViewProvenance;
  /** View commits so far: each commit's step name is unique per workflow (its first run id and this count). */
  commits: number;
  viewSnapshot?: string;
}

/** One commit's source: a layer's table at a pinned snapshot, and which partitions it covers (see {@link ViewWrite}). */
export type ViewSource = Omit<ViewWrite, 'source'> & {
  /** Copy from this pipeline's table of the layer instead of the view's own pipeline's (a Kappa generation). */
  pipeline?: string;
};

/**
 * The serving view `lake.<pipeline>.merged`, written by one workflow (docs/lambda.md): each
 * {@link commit} is one atomic Iceberg commit of whole partitions with the view's provenance in
 * its snapshot summary, named by a deterministic step name, so a retry after a killed worker
 * finds the commit instead of repeating it. `state` is the writer's own (pass it in the
 * continue-as-new input); the view mutates it in place.
 */
export class ServingView {
  constructor(
    readonly pipeline: string,
    readonly columns: OutputColumn[],
    readonly state: ServingViewState,
  ) {}

  /** Copies `write`'s rows into the view in one commit; answers the view's snapshot and provenance. */
  async commit(
    write: ViewSource,
    extra: {
      /** A batch publication: the check's verdict and report, recorded with the partition. */
      published?: { check: CheckVerdict; report?: string; flagged?: boolean };
      highWaterMark?: string;
      /** Top-level provenance fields to set (e.g. a Kappa generation). */
      annotate?: Pick<ViewProvenance, 'generation'>;
    } = {},
  ): Promise<ViewCommitResult> {
    this.state.commits += 1;
    const { firstExecutionRunId, workflowId } = workflowInfo();
    const result = await spark.commitView({
      pipeline: this.pipeline,
      stepName: `${workflowId}#${firstExecutionRunId}#view#${this.state.commits}`,
      columns: this.columns,
      write,
      provenance: this.state.provenance,
      ...extra,
    });
    this.state.provenance = result.provenance;
    if (result.snapshotId) this.state.viewSnapshot = result.snapshotId;
    return result;
  }
}
