import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../src/config/env.js';

describe('loadConfig', () => {
  it('has sane and safe defaults: embedded database, demo on, port 4000, no CORS', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 4000,
      databaseUrl: undefined,
      demo: true,
      logLevel: 'info',
      // Unset, not development: clients see no SQL or stacks unless the operator asks.
      nodeEnv: undefined,
      corsOrigins: [],
    });
    expect(config.dataDir).toMatch(/\.data$/);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('logs JSON unless asked for pretty lines; serves /metrics, without a token unless given', () => {
    expect(loadConfig({})).toMatchObject({
      logFormat: 'json',
      metrics: { enabled: true, token: undefined },
    });
    expect(loadConfig({ LOG_FORMAT: 'pretty' }).logFormat).toBe('pretty');
    expect(loadConfig({ TAGWISE_METRICS: '0' }).metrics.enabled).toBe(false);
    const token = 'metrics-token-0123456789';
    expect(loadConfig({ TAGWISE_METRICS_TOKEN: token }).metrics.token).toBe(token);
    // Empty is unset, as for ADMIN_API_KEY: `TAGWISE_METRICS_TOKEN=` in a file turns it off.
    expect(loadConfig({ TAGWISE_METRICS_TOKEN: '' }).metrics.token).toBeUndefined();
    expect(() => loadConfig({ TAGWISE_METRICS_TOKEN: 'a-secret-12345' })).toThrow(
      /TAGWISE_METRICS_TOKEN must be at least 16 characters \(got a value of 14 characters, not shown\)/,
    );
  });

  it('keeps each data dir’s model versions in that data dir unless TAGWISE_MODELS_DIR says', () => {
    expect(loadConfig({}).modelsDir).toBe(path.resolve('.data', 'models'));
    expect(loadConfig({ TAGWISE_DATA_DIR: '/srv/campaign' }).modelsDir).toBe(
      '/srv/campaign/models',
    );
    expect(
      loadConfig({ TAGWISE_DATA_DIR: '/srv/campaign', TAGWISE_MODELS_DIR: '/mnt/models' })
        .modelsDir,
    ).toBe('/mnt/models');
  });

  it('never generates demo data into a database it was pointed at, unless asked', () => {
    expect(loadConfig({ DATABASE_URL: 'postgres://db/x' }).demo).toBe(false);
    expect(loadConfig({ DATABASE_URL: 'postgres://db/x', TAGWISE_DEMO: '1' }).demo).toBe(true);
    expect(loadConfig({ TAGWISE_DEMO: '0' }).demo).toBe(false);
  });

  it.each([
    [{ PORT: 'eighty' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ LOG_FORMAT: 'text' }, 'LOG_FORMAT'],
    [{ TAGWISE_METRICS: 'off' }, 'TAGWISE_METRICS'],
    [{ TAGWISE_METRICS_TOKEN: 'short' }, 'TAGWISE_METRICS_TOKEN'],
    [{ NODE_ENV: 'staging' }, 'NODE_ENV'],
    [{ ADMIN_API_KEY: 'short' }, 'ADMIN_API_KEY'],
    [{ TAGWISE_DEMO: 'yes' }, 'TAGWISE_DEMO'],
    [{ TAGWISE_API_PROCESSES: '0' }, 'TAGWISE_API_PROCESSES'],
    [{ TAGWISE_API_PROCESSES: 'all' }, 'TAGWISE_API_PROCESSES'],
    [{ TAGWISE_MAX_QUERY_COST: '10' }, 'TAGWISE_MAX_QUERY_COST'],
    [{ TAGWISE_MAX_QUERY_DEPTH: 'deep' }, 'TAGWISE_MAX_QUERY_DEPTH'],
    [{ TAGWISE_CORS_ORIGINS: 'crm.example.com' }, 'TAGWISE_CORS_ORIGINS'],
    [{ TAGWISE_CORS_ORIGINS: 'https://crm.example.com/' }, 'TAGWISE_CORS_ORIGINS'],
    [{ TAGWISE_COST_WEIGHTS: '{"previewSegment": 5}' }, 'TAGWISE_COST_WEIGHTS'],
    [{ TAGWISE_COST_WEIGHTS: '{"Query.previewSegment": 1.5}' }, 'TAGWISE_COST_WEIGHTS'],
    [{ TAGWISE_COST_WEIGHTS: 'Query.previewSegment=5' }, 'TAGWISE_COST_WEIGHTS'],
    [{ TAGWISE_STATEMENT_TIMEOUT_MS: '-1' }, 'TAGWISE_STATEMENT_TIMEOUT_MS'],
    // Expensive operations have 4 connections per process: a cap of 4 would let one key take them.
    [{ TAGWISE_MAX_EXPENSIVE_PER_KEY: '4' }, 'TAGWISE_MAX_EXPENSIVE_PER_KEY'],
  ])('stops on %j with one line naming %s', (env, variable) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    try {
      loadConfig(env);
    } catch (error) {
      expect((error as ConfigError).variable).toBe(variable);
      expect((error as Error).message).toMatch(new RegExp(`^Invalid configuration: ${variable} `));
      expect((error as Error).message).not.toContain('\n');
    }
  });

  it('reads the limits on what a request does', () => {
    expect(loadConfig({})).toMatchObject({
      statementTimeoutMs: 15_000,
      queryLimits: { maxExpensivePerKey: 1, costWeights: {} },
    });
    const config = loadConfig({
      TAGWISE_COST_WEIGHTS: ' {"Query.previewSegment": 50000, "Tag.customerCount": 0} ',
      TAGWISE_STATEMENT_TIMEOUT_MS: '0',
      TAGWISE_MAX_EXPENSIVE_PER_KEY: '0',
    });
    expect(config.queryLimits.costWeights).toEqual({
      'Query.previewSegment': 50000,
      'Tag.customerCount': 0,
    });
    expect(config.statementTimeoutMs).toBe(0);
    expect(config.queryLimits.maxExpensivePerKey).toBe(0);
  });

  it('serves the console and GraphiQL by default; GraphiQL off in production unless asked', () => {
    expect(loadConfig({}).web).toEqual({ console: true, graphiql: true, dev: false });
    expect(loadConfig({ NODE_ENV: 'production' }).web.graphiql).toBe(false);
    expect(loadConfig({ NODE_ENV: 'production', TAGWISE_GRAPHIQL: '1' }).web.graphiql).toBe(true);
    expect(loadConfig({ TAGWISE_GRAPHIQL: '0', TAGWISE_CONSOLE: '0' }).web).toMatchObject({
      console: false,
      graphiql: false,
    });
    expect(loadConfig({ TAGWISE_WEB_DEV: '1' }).web.dev).toBe(true);
    expect(() => loadConfig({ TAGWISE_GRAPHIQL: 'yes' })).toThrow(
      'TAGWISE_GRAPHIQL must be 0 or 1 (got "yes")',
    );
  });

  it('reads allowed CORS origins', () => {
    expect(
      loadConfig({ TAGWISE_CORS_ORIGINS: 'https://crm.example.com, http://localhost:5173' })
        .corsOrigins,
    ).toEqual(['https://crm.example.com', 'http://localhost:5173']);
    expect(loadConfig({ TAGWISE_CORS_ORIGINS: '*' }).corsOrigins).toEqual(['*']);
  });

  it.each([
    ['ADMIN_API_KEY', 'short-secret'],
    ['DATABASE_URL', 'mysql://admin:hunter2@db/x'],
  ])('never echoes the value of the secret %s in its error', (variable, value) => {
    expect(() => loadConfig({ [variable]: value })).toThrow(ConfigError);
    try {
      loadConfig({ [variable]: value });
    } catch (error) {
      expect((error as Error).message).not.toContain(value);
      expect((error as Error).message).not.toContain('hunter2');
      expect((error as Error).message).toContain(`${value.length} characters, not shown`);
    }
  });
});
