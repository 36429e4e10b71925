import type { ModelRun } from './model-version.entity.js';
import type { ModelRegistryService, TrainingRequest } from './model-registry.service.js';

/** What the API needs of the job queue: handing a run to whichever worker is free. */
export interface TrainingQueue {
  enqueueTraining(runId: string): Promise<void>;
}

export class TrainingService {
  constructor(
    private readonly registry: ModelRegistryService,
    private readonly queue: TrainingQueue,
  ) {}

  async request(request: TrainingRequest, requestedBy: string): Promise<ModelRun> {
    const run = await this.registry.createRun(request, requestedBy);
    await this.queue.enqueueTraining(run.id);
    return run;
  }
}
