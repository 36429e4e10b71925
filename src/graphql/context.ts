import type { IncomingMessage } from 'node:http';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { PersonalDataService } from '../modules/access/personal-data.service.js';
import { AuditService, RequestAudit, viewerActor } from '../modules/audit/audit.service.js';
import type { AuthService, Viewer } from '../modules/auth/auth.service.js';
import { ServiceUnavailableError, UnauthenticatedError } from '../modules/common/domain.errors.js';
import { CustomerService } from '../modules/customer/customer.service.js';
import { createEventLoaders } from '../modules/event/event.loaders.js';
import { EventService } from '../modules/event/event.service.js';
import { createFeatureLoaders } from '../modules/feature/feature.loaders.js';
import { FeatureService } from '../modules/feature/feature.service.js';
import { createModelRegistryLoaders } from '../modules/model-registry/model-registry.loaders.js';
import { ModelRegistryService } from '../modules/model-registry/model-registry.service.js';
import { ModelReportService } from '../modules/model-registry/model-report.service.js';
import { TrainingService, type TrainingQueue } from '../modules/model-registry/training.service.js';
import { RuleService, type RuleQueue } from '../modules/rule/rule.service.js';
import { RunService } from '../modules/run/run.service.js';
import { createSegmentLoaders } from '../modules/segment/segment.loaders.js';
import { SegmentService } from '../modules/segment/segment.service.js';
import { createSuggestionLoaders } from '../modules/suggestion/suggestion.loaders.js';
import { SuggestionService } from '../modules/suggestion/suggestion.service.js';
import { createTaggingLoaders } from '../modules/tagging/tagging.loaders.js';
import { TaggingService } from '../modules/tagging/tagging.service.js';
import { createTaxonomyLoaders } from '../modules/taxonomy/taxonomy.loaders.js';
import { TaxonomyService } from '../modules/taxonomy/taxonomy.service.js';
import { TaxonomyVisibility } from '../modules/taxonomy/visibility.js';
import { TraitService } from '../modules/trait/trait.service.js';
import { unavailableRequest } from './http-status.js';

function createLoaders(em: EntityManager, visibility: TaxonomyVisibility) {
  return {
    ...createTaxonomyLoaders(em, visibility),
    ...createTaggingLoaders(em, visibility),
    ...createEventLoaders(em),
    ...createFeatureLoaders(em),
    ...createModelRegistryLoaders(em),
    ...createSegmentLoaders(em, visibility),
    ...createSuggestionLoaders(em, visibility),
  };
}

function createServices(
  em: EntityManager,
  queue: TrainingQueue,
  access: PersonalDataService,
  visibility: TaxonomyVisibility,
) {
  const models = new ModelRegistryService(em, visibility);
  return {
    audit: new AuditService(em),
    customers: new CustomerService(em, access, visibility),
    taxonomy: new TaxonomyService(em, visibility),
    tagging: new TaggingService(em, visibility),
    events: new EventService(em),
    features: new FeatureService(em),
    models,
    reports: new ModelReportService(em),
    training: new TrainingService(models, queue),
    segments: new SegmentService(em, access, visibility),
    rules: new RuleService(em, access, visibility),
    runs: new RunService(em),
    suggestions: new SuggestionService(em, visibility),
    traits: new TraitService(em),
  };
}

export type Loaders = ReturnType<typeof createLoaders>;
export type Services = ReturnType<typeof createServices>;

export interface GraphQLContext {
  /** This request's own EntityManager; the global one is never used inside a request. */
  em: EntityManager;
  viewer: Viewer | null;
  /** Which tags and categories the viewer's departments may see. */
  visibility: TaxonomyVisibility;
  /** What this key sees of personal data: every customer and condition passes through it. */
  access: PersonalDataService;
  /** Why a presented key was refused, for the UNAUTHENTICATED message. */
  authFailure: string | null;
  loaders: Loaders;
  services: Services;
  queue: JobQueuePort;
  /** This request's audit: entries for its writes, and the personal data it returned in clear. */
  audit: RequestAudit;
}

/** What the API needs of the job queue: handing runs to whichever worker is free. */
export interface JobQueuePort extends TrainingQueue, RuleQueue {
  enqueueSuggestions(runId: string): Promise<void>;
}

/**
 * The request's EntityManager and everything built on it, from the pool `orm` draws on. An
 * expensive operation gets these anew from the expensive pool before it runs (app.ts).
 */
export function requestState(
  orm: MikroORM,
  queue: JobQueuePort,
  viewer: Viewer | null,
): Pick<GraphQLContext, 'em' | 'visibility' | 'access' | 'loaders' | 'services'> {
  const em = orm.em.fork();
  const visibility = new TaxonomyVisibility(em, viewer);
  const access = PersonalDataService.forViewer(em, viewer);
  return {
    em,
    visibility,
    access,
    loaders: createLoaders(em, visibility),
    services: createServices(em, queue, access, visibility),
  };
}

/** The one place request state is built. */
export async function createContext(
  orm: MikroORM,
  auth: AuthService,
  req: Pick<IncomingMessage, 'headers'>,
  queue: JobQueuePort,
): Promise<GraphQLContext> {
  const { viewer, authFailure } = await authenticate(auth, req.headers.authorization).catch(
    (error: unknown) => {
      throw error instanceof ServiceUnavailableError ? unavailableRequest(error) : error;
    },
  );
  const state = requestState(orm, queue, viewer);
  return {
    ...state,
    viewer,
    authFailure,
    queue,
    audit: new RequestAudit(state.em, viewer ? viewerActor(viewer) : null),
  };
}

async function authenticate(
  auth: AuthService,
  header: string | undefined,
): Promise<{ viewer: Viewer | null; authFailure: string | null }> {
  if (!header) return { viewer: null, authFailure: null };
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) {
    return { viewer: null, authFailure: 'The Authorization header must be "Bearer <api key>"' };
  }
  const viewer = await auth.authenticate(match[1]!);
  return viewer
    ? { viewer, authFailure: null }
    : { viewer: null, authFailure: 'The API key is unknown or revoked' };
}

/** For resolvers behind @Authorized, where a viewer is guaranteed. */
export function viewerOf(ctx: GraphQLContext): Viewer {
  if (!ctx.viewer) throw new UnauthenticatedError(ctx.authFailure ?? undefined);
  return ctx.viewer;
}
