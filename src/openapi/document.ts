// The OpenAPI 3.1 description of every public endpoint; served as JSON and rendered by /docs.
import { SCOPES } from '../auth/scopes'
import { DEFAULT_VERSION } from '../http/api-version'
import { STATUSES } from '../job-statuses/lifecycle'
import { ACCESS_TOKEN_LIFETIME } from '../auth/oauth/routes'
import { webhookPaths, webhookSchemas, type OpenApiParts } from '../webhooks/openapi'

type Schema = Record<string, unknown>

const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` })
const nullable = (type: string, extra: Schema = {}): Schema => ({ type: [type, 'null'], ...extra })
const json = (schema: Schema, description: string, mediaType = 'application/vnd.api+json') => ({
  description,
  content: { [mediaType]: { schema } },
})
const response = (name: string) => ({ $ref: `#/components/responses/${name}` })
const parameter = (name: string) => ({ $ref: `#/components/parameters/${name}` })

// Not format "uri": Planning Center writes query brackets literally (`where[status]=…`), which RFC 3986 does not allow.
const LINK = { type: 'string', pattern: '^https?://', description: 'An absolute URL of this server' }
const TIMESTAMP = nullable('string', { format: 'date-time', description: 'UTC, `YYYY-MM-DDTHH:MM:SSZ`' })
const ID = { type: 'string', pattern: '^[1-9][0-9]*$', description: 'A positive 64-bit integer, as a string' }

const PCO_HEADERS = {
  'X-PCO-API-Processed-As-Version': { $ref: '#/components/headers/ProcessedAsVersion' },
  'X-PCO-API-Request-Rate-Count': { $ref: '#/components/headers/RateCount' },
  'X-PCO-API-Request-Rate-Limit': { $ref: '#/components/headers/RateLimit' },
  'X-PCO-API-Request-Rate-Period': { $ref: '#/components/headers/RatePeriod' },
  'X-Request-Id': { $ref: '#/components/headers/RequestId' },
}

const CALENDAR_ERRORS = {
  '400': response('BadRequest'),
  '401': response('Unauthorized'),
  '404': response('NotFound'),
  '429': response('TooManyRequests'),
  '503': response('Unavailable'),
}

const JOB_ATTRIBUTES: Record<string, Schema> = {
  errors: { description: 'What went wrong, as the job reported it; `{}` when nothing did', type: ['object', 'array'] },
  message: nullable('string', { description: 'A human-readable account of where the job is' }),
  retries: { type: 'integer', minimum: 0, description: 'How many times the job was retried' },
  started_at: { ...TIMESTAMP, description: 'When the job started; null until it does' },
  status: { type: 'string', enum: [...STATUSES] },
  completed_at: TIMESTAMP,
  created_at: TIMESTAMP,
  created_by: nullable('string', { description: "The id of the person who created the job" }),
  failed_at: TIMESTAMP,
  kind: nullable('string'),
  outputs: { type: 'array', items: ref('Output') },
  progress: { type: 'integer', minimum: 0, description: 'Tasks done' },
  results: { type: 'array', items: ref('Result') },
  results_count: { type: 'integer', minimum: 0 },
  runtime: nullable('integer', { minimum: 0, description: 'Seconds from start to finish, or to now while running' }),
  total: nullable('integer', { minimum: 0, description: 'Tasks in all, when known' }),
  updated_at: TIMESTAMP,
}

const PCO_ATTRIBUTES = ['errors', 'message', 'retries', 'started_at', 'status']

function jobStatusResource(description: string, links: Schema): Schema {
  return {
    type: 'object',
    description,
    required: ['type', 'id', 'attributes', 'relationships', 'links'],
    additionalProperties: false,
    properties: {
      type: { const: 'JobStatus' },
      id: ID,
      attributes: { type: 'object', additionalProperties: false, properties: JOB_ATTRIBUTES },
      relationships: { type: 'object' },
      links,
    },
  }
}

const parent = { type: 'object', required: ['id', 'type'], properties: { id: ID, type: { const: 'Organization' } } }

function schemas(): Record<string, Schema> {
  return {
    ...webhookSchemas(PARTS()),
    Error: {
      type: 'object',
      description: 'One failure. `status` is a string; `source` names the parameter or body member at fault.',
      properties: {
        status: { type: 'string' },
        title: { type: 'string' },
        code: { type: 'string' },
        detail: { type: 'string' },
        source: { type: 'object', properties: { parameter: { type: 'string' }, pointer: { type: 'string' } } },
      },
    },
    ErrorDocument: { type: 'object', required: ['errors'], properties: { errors: { type: 'array', minItems: 1, items: ref('Error') } } },
    Organization: {
      type: 'object',
      required: ['type', 'id', 'attributes', 'relationships', 'links'],
      properties: {
        type: { const: 'Organization' },
        id: ID,
        attributes: {
          type: 'object',
          additionalProperties: false,
          required: ['calendar_starts_on', 'date_format', 'name', 'time_zone', 'twenty_four_hour_time'],
          properties: {
            calendar_starts_on: { type: 'string', enum: ['Sunday', 'Monday'] },
            date_format: { type: 'string', enum: ['%m/%d/%Y', '%d/%m/%Y'] },
            name: { type: 'string' },
            time_zone: { type: 'string', description: 'An IANA time zone' },
            twenty_four_hour_time: { type: 'boolean' },
          },
        },
        relationships: { type: 'object' },
        links: {
          type: 'object',
          required: ['job_statuses', 'self'],
          properties: { job_statuses: LINK, self: LINK },
        },
      },
    },
    OrganizationDocument: {
      type: 'object',
      required: ['data', 'included', 'meta'],
      properties: { data: ref('Organization'), included: { type: 'array', maxItems: 0 }, meta: { type: 'object' } },
    },
    Output: {
      type: 'object',
      properties: { name: { type: 'string' }, records_count: nullable('integer'), url: nullable('string') },
    },
    Result: {
      type: 'object',
      description: "One task's outcome, as the job's worker reported it",
      properties: {
        id: nullable('string'),
        action: nullable('string'),
        success: nullable('boolean'),
        status: nullable('string'),
        errors: {},
        title: nullable('string'),
      },
    },
    JobStatus: jobStatusResource(
      `Planning Center's JobStatus. Without \`fields[JobStatus]\` the attributes are exactly ${PCO_ATTRIBUTES.map((a) => `\`${a}\``).join(', ')}; the others are served when named there.`,
      { type: 'object', required: ['self'], additionalProperties: false, properties: { self: LINK } },
    ),
    JobStatusDocument: {
      type: 'object',
      required: ['data', 'included', 'meta'],
      properties: { data: ref('JobStatus'), included: { type: 'array', maxItems: 0 }, meta: { type: 'object', properties: { parent } } },
    },
    JobStatusListDocument: {
      type: 'object',
      required: ['links', 'data', 'included', 'meta'],
      properties: {
        links: {
          type: 'object',
          required: ['self'],
          additionalProperties: false,
          properties: { self: LINK, prev: LINK, next: LINK },
        },
        data: { type: 'array', maxItems: 100, items: ref('JobStatus') },
        included: { type: 'array', maxItems: 0 },
        meta: {
          type: 'object',
          required: ['total_count', 'count', 'can_order_by', 'can_query_by', 'parent'],
          properties: {
            total_count: { type: 'integer', minimum: 0, description: "Every job status of the caller's organization" },
            count: { type: 'integer', minimum: 0, description: 'Job statuses on this page' },
            prev: { type: 'object', required: ['offset'], properties: { offset: { type: 'integer', minimum: 0 } } },
            next: { type: 'object', required: ['offset'], properties: { offset: { type: 'integer', minimum: 0 } } },
            can_order_by: { type: 'array', items: { type: 'string' } },
            can_query_by: { type: 'array', items: { type: 'string' } },
            parent,
          },
        },
      },
    },
    Job: jobStatusResource('A job as the write API shows it: every attribute, `results` when read.', {
      type: 'object',
      required: ['self', 'pco', 'results'],
      additionalProperties: false,
      properties: {
        self: LINK,
        pco: { ...LINK, description: 'The same job on the Planning Center surface' },
        results: { ...LINK, description: 'Every result of the job, a page at a time; a document of the job carries only its first 100' },
      },
    }),
    JobStatusResultListDocument: {
      type: 'object',
      required: ['links', 'data', 'included', 'meta'],
      properties: {
        links: { type: 'object', required: ['self'], additionalProperties: false, properties: { self: LINK, prev: LINK, next: LINK } },
        data: {
          type: 'array',
          maxItems: 100,
          items: {
            type: 'object',
            required: ['type', 'id', 'attributes'],
            properties: {
              type: { const: 'JobStatusResult' },
              id: { type: 'string' },
              attributes: {
                type: 'object',
                properties: {
                  action: nullable('string'),
                  created_at: { type: 'string' },
                  errors: {},
                  status: nullable('string'),
                  success: nullable('boolean'),
                  task_id: { ...nullable('string'), description: "The worker's own id for the task" },
                  title: nullable('string'),
                },
              },
            },
          },
        },
        included: { type: 'array', maxItems: 0 },
        meta: {
          type: 'object',
          required: ['total_count', 'count', 'parent'],
          properties: {
            total_count: { type: 'integer', minimum: 0, description: "The job's results_count" },
            count: { type: 'integer', minimum: 0 },
            parent: { type: 'object', required: ['id', 'type'], properties: { id: { type: 'string' }, type: { const: 'JobStatus' } } },
          },
        },
      },
    },
    JobDocument: {
      type: 'object',
      required: ['data', 'included', 'meta'],
      properties: { data: ref('Job'), included: { type: 'array', maxItems: 0 }, meta: { type: 'object' } },
    },
    JobCreate: {
      type: 'object',
      required: ['data'],
      properties: {
        data: {
          type: 'object',
          properties: {
            type: { const: 'JobStatus' },
            attributes: {
              type: 'object',
              properties: {
                kind: nullable('string', { maxLength: 200 }),
                total: nullable('integer', { minimum: 0 }),
                message: nullable('string', { maxLength: 10_000 }),
                errors: { type: ['object', 'array'] },
                outputs: { type: 'array', items: ref('Output') },
                scenario: ref('Scenario'),
              },
            },
          },
        },
      },
    },
    Scenario: {
      type: 'object',
      description: 'A job that moves by itself, one task per step, spread over the duration',
      required: ['duration_seconds', 'total'],
      properties: {
        duration_seconds: { type: 'number', exclusiveMinimum: 0, maximum: 86_400 },
        total: { type: 'integer', minimum: 1, maximum: 100_000 },
        fail_at_task: { type: 'integer', minimum: 1 },
        kill_at_task: { type: 'integer', minimum: 1 },
      },
    },
    JobUpdate: {
      type: 'object',
      required: ['data'],
      properties: {
        data: {
          type: 'object',
          properties: {
            attributes: {
              type: 'object',
              properties: {
                kind: nullable('string'),
                total: nullable('integer', { minimum: 0 }),
                progress: { type: 'integer', minimum: 0 },
                message: nullable('string'),
                errors: { type: ['object', 'array'] },
                outputs: { type: 'array', items: ref('Output') },
              },
            },
          },
        },
      },
    },
    ProgressReport: {
      type: 'object',
      required: ['data'],
      properties: {
        data: {
          type: 'object',
          properties: { attributes: { type: 'object', properties: { increment: { type: 'integer', minimum: 1, default: 1 }, message: { type: 'string' } } } },
        },
      },
    },
    ResultsAppend: { type: 'object', required: ['data'], properties: { data: { type: 'array', minItems: 1, maxItems: 10_000, items: ref('Result') } } },
    Transition: {
      type: 'object',
      required: ['data'],
      properties: {
        data: {
          type: 'object',
          required: ['attributes'],
          properties: {
            attributes: {
              type: 'object',
              required: ['status'],
              properties: { status: { type: 'string', enum: [...STATUSES] }, message: nullable('string'), errors: { type: ['object', 'array'] } },
            },
          },
        },
      },
    },
    TokenResponse: {
      type: 'object',
      required: ['access_token', 'token_type', 'expires_in', 'refresh_token', 'scope', 'created_at'],
      properties: {
        access_token: { type: 'string' },
        token_type: { const: 'bearer' },
        expires_in: { const: ACCESS_TOKEN_LIFETIME },
        refresh_token: { type: 'string' },
        scope: { type: 'string', description: 'Granted scopes, separated by spaces' },
        created_at: { type: 'integer', description: 'Seconds since the Unix epoch' },
      },
    },
    OAuthError: {
      type: 'object',
      required: ['error'],
      properties: { error: { type: 'string' }, error_description: { type: 'string' } },
    },
    ZendeskJobStatus: {
      type: 'object',
      required: ['id', 'url', 'total', 'progress', 'status', 'message', 'results'],
      properties: {
        id: ID,
        url: LINK,
        total: nullable('integer'),
        progress: { type: 'integer' },
        status: { type: 'string', enum: ['queued', 'working', 'completed', 'failed', 'killed'] },
        message: nullable('string'),
        results: { type: 'array', items: { type: 'object' } },
      },
    },
    ZendeskError: { type: 'object', required: ['error'], properties: { error: { type: 'string' }, description: { type: 'string' } } },
    XplentyJob: {
      type: 'object',
      required: ['id', 'status', 'progress', 'url', 'created_at', 'updated_at'],
      properties: {
        id: { type: 'integer', minimum: 1 },
        status: { type: 'string', enum: ['queued', 'running', 'stopping', 'completed', 'failed', 'stopped'] },
        owner_id: nullable('integer'),
        progress: { type: 'number', minimum: 0, maximum: 1 },
        outputs_count: { type: 'integer' },
        outputs: { type: 'array', items: { type: 'object' } },
        started_at: TIMESTAMP,
        created_at: TIMESTAMP,
        failed_at: TIMESTAMP,
        updated_at: TIMESTAMP,
        errors: { type: 'string' },
        runtime_in_seconds: { type: 'integer' },
        url: LINK,
        html_url: LINK,
        creator: { type: ['object', 'null'] },
      },
    },
    XplentyError: { type: 'object', required: ['message'], properties: { message: { type: 'string' } } },
  }
}

function components(baseUrl: string) {
  const errorDocument = (description: string, headers: Record<string, unknown> = {}) => ({
    description,
    headers,
    content: { 'application/json': { schema: ref('ErrorDocument') } },
  })
  return {
    schemas: schemas(),
    headers: {
      ProcessedAsVersion: { description: 'The API version the request was answered as', schema: { type: 'string' } },
      RateCount: { description: 'Requests by this person in the current window, this one included', schema: { type: 'integer' } },
      RateLimit: { description: 'Requests allowed per window (fewer past offset 30,000)', schema: { type: 'integer' } },
      RatePeriod: { description: 'The window, in seconds', schema: { type: 'integer' } },
      RequestId: { description: "The request's id, as sent or made up; also in the server's log", schema: { type: 'string' } },
      ETag: { description: 'A weak validator of the body; send it in If-None-Match', schema: { type: 'string' } },
      RetryAfter: { description: 'Whole seconds to wait', schema: { type: 'integer' } },
    },
    parameters: {
      ApiVersion: {
        name: 'X-PCO-API-Version',
        in: 'header',
        description: `\`YYYY-MM-DD\` (on or after 2018-08-01) or \`LATEST\`; absent means ${DEFAULT_VERSION}`,
        schema: { type: 'string' },
      },
      IfNoneMatch: { name: 'If-None-Match', in: 'header', description: 'An ETag from an earlier answer: an unchanged answer is 304', schema: { type: 'string' } },
      PerPage: { name: 'per_page', in: 'query', description: 'Rows per page; out of range is clamped', schema: { type: 'integer', minimum: 1, maximum: 100, default: 25 } },
      Offset: { name: 'offset', in: 'query', description: 'Rows to skip (zero-based); negative is clamped to 0', schema: { type: 'integer', minimum: 0, default: 0 } },
      Fields: {
        name: 'fields[JobStatus]',
        in: 'query',
        description: 'Attributes to return, separated by commas; names the extra attributes too',
        schema: { type: 'string' },
        example: 'status,progress,total',
      },
      WhereStatus: {
        name: 'where[status]',
        in: 'query',
        description: 'One status, or several separated by commas',
        schema: { type: 'string' },
        example: 'working,failed',
      },
      ...Object.fromEntries(
        ['', 'gt', 'gte', 'lt', 'lte'].map((op) => [
          `WhereStartedAt${op.toUpperCase()}`,
          {
            name: op ? `where[started_at][${op}]` : 'where[started_at]',
            in: 'query',
            description: op ? `started_at ${{ gt: '>', gte: '≥', lt: '<', lte: '≤' }[op]} the time` : 'started_at equals the time',
            schema: { type: 'string', format: 'date-time' },
          },
        ]),
      ),
      Order: {
        name: 'order',
        in: 'query',
        description: 'Ties are broken by id; jobs not yet started sort last. Absent: by id.',
        schema: { type: 'string', enum: ['started_at', '-started_at', 'created_at', '-created_at'] },
      },
      JobStatusId: { name: 'id', in: 'path', required: true, schema: ID },
      IdempotencyKey: {
        name: 'Idempotency-Key',
        in: 'header',
        description: 'A retry with the same key and body gets the first answer again and writes nothing',
        schema: { type: 'string', minLength: 1, maxLength: 255 },
      },
    },
    responses: {
      NotModified: { description: 'The document is unchanged since the ETag sent in If-None-Match', headers: { ETag: { $ref: '#/components/headers/ETag' } } },
      BadRequest: errorDocument('A parameter, header or body member is invalid: `source.parameter` names a parameter, `source.pointer` (a JSON pointer) a member of the body'),
      Unauthorized: {
        description:
          'No credentials, or a bearer token that is unknown, expired (hint BABOON), revoked (CAPUCHIN) or without the scope (PELICAN). A bad personal access token is answered with the text/html body `HTTP Basic: Access denied.`',
        headers: { 'WWW-Authenticate': { schema: { type: 'string' } } },
        content: { 'application/json': { schema: ref('ErrorDocument') }, 'text/html': { schema: { type: 'string' } } },
      },
      NotFound: errorDocument("No such resource in the caller's organization"),
      Conflict: errorDocument("The job's status does not allow this (`invalid_transition`, `invalid_state`)"),
      Unprocessable: errorDocument(
        'Well formed, but not kept: an Idempotency-Key used for a different request (`idempotency_key_reused`), progress past 2147483647 (`out_of_range`) or past the job’s total (`progress_above_total`), more than 100000 results for one job (`too_many_results`)',
      ),
      PayloadTooLarge: errorDocument('The body is larger than the limit the detail names (`payload_too_large`)'),
      UnsupportedMediaType: errorDocument('The body is not JSON, or not UTF-8: the detail names its media type or charset (`unsupported_media_type`)'),
      TooManyRequests: errorDocument('The rate limit, or the failed-authentication throttle, is exceeded', {
        'Retry-After': { $ref: '#/components/headers/RetryAfter' },
      }),
      Unavailable: errorDocument('The database cannot be reached; retry after Retry-After', { 'Retry-After': { $ref: '#/components/headers/RetryAfter' } }),
    },
    securitySchemes: {
      oauth2: {
        type: 'oauth2',
        description: 'Authorization code with a client secret, and PKCE (S256). The API explorer is a public client and uses PKCE alone.',
        flows: {
          authorizationCode: {
            authorizationUrl: `${baseUrl}/oauth/authorize`,
            tokenUrl: `${baseUrl}/oauth/token`,
            refreshUrl: `${baseUrl}/oauth/token`,
            // The one list of scopes, which the consent page and the command-line tool read too.
            scopes: { ...SCOPES },
          },
        },
      },
      personalAccessToken: { type: 'http', scheme: 'basic', description: "A personal access token: its app_id as user name, its secret as password" },
      zendeskBasic: { type: 'http', scheme: 'basic', description: '`{email}/token` and a personal access token secret, or `{email}` and the password' },
      xplentyApiKey: { type: 'http', scheme: 'basic', description: 'A personal access token secret as user name, empty password' },
      metricsToken: { type: 'http', scheme: 'bearer', description: 'The operator\'s METRICS_TOKEN, when it is set' },
    },
  }
}

const CALENDAR_SECURITY = [{ oauth2: ['calendar'] }, { personalAccessToken: [] }]
const JOBS_SECURITY = [{ oauth2: ['jobs'] }, { personalAccessToken: [] }]

function pcoOk(schema: string, description: string) {
  return { ...json(ref(schema), description), headers: { ...PCO_HEADERS, ETag: { $ref: '#/components/headers/ETag' } } }
}

function jobsOperation(summary: string, operationId: string, extra: Schema = {}, status = '200') {
  return {
    tags: ['Jobs'],
    summary,
    operationId,
    security: JOBS_SECURITY,
    ...extra,
    responses: {
      [status]: json(ref('JobDocument'), 'The job'),
      '400': response('BadRequest'),
      '401': response('Unauthorized'),
      '404': response('NotFound'),
      '413': response('PayloadTooLarge'),
      '415': response('UnsupportedMediaType'),
      '429': response('TooManyRequests'),
      ...((extra.responses as Schema | undefined) ?? {}),
    },
  }
}

/** A JSON body of `schema`, with an example the explorer fills its editor with. */
function body(schema: string, example: unknown) {
  return {
    required: true,
    content: { 'application/vnd.api+json': { schema: ref(schema), example }, 'application/json': { schema: ref(schema), example } },
  }
}

/** What the other APIs' parts of the document are written with. */
const PARTS = (): OpenApiParts => ({ ref, response, parameter, json, body, ID, LINK, TIMESTAMP, PCO_HEADERS })

function paths() {
  const idPath = { parameters: [parameter('JobStatusId')] }
  return {
    ...webhookPaths(PARTS()),
    '/calendar/v2': {
      get: {
        tags: ['Calendar'],
        summary: "The caller's Organization",
        operationId: 'getOrganization',
        security: CALENDAR_SECURITY,
        parameters: [parameter('ApiVersion'), parameter('IfNoneMatch')],
        responses: { '200': pcoOk('OrganizationDocument', "The caller's Organization"), '304': response('NotModified'), ...CALENDAR_ERRORS },
      },
    },
    '/calendar/v2/job_statuses': {
      get: {
        tags: ['Calendar'],
        summary: "Job statuses of the caller's Organization",
        description: 'Ordered by id unless `order` says otherwise. Follow `links.next` to walk every page; each row appears exactly once.',
        operationId: 'listJobStatuses',
        security: CALENDAR_SECURITY,
        parameters: [
          parameter('PerPage'),
          parameter('Offset'),
          parameter('Fields'),
          parameter('WhereStatus'),
          ...['', 'GT', 'GTE', 'LT', 'LTE'].map((op) => parameter(`WhereStartedAt${op}`)),
          parameter('Order'),
          parameter('ApiVersion'),
          parameter('IfNoneMatch'),
        ],
        responses: { '200': pcoOk('JobStatusListDocument', 'One page'), '304': response('NotModified'), ...CALENDAR_ERRORS },
      },
    },
    '/calendar/v2/job_statuses/{id}': {
      ...idPath,
      get: {
        tags: ['Calendar'],
        summary: 'One job status',
        description: "Another organization's id answers 404, exactly like a missing one.",
        operationId: 'getJobStatus',
        security: CALENDAR_SECURITY,
        parameters: [parameter('Fields'), parameter('ApiVersion'), parameter('IfNoneMatch')],
        responses: { '200': pcoOk('JobStatusDocument', 'The job status'), '304': response('NotModified'), ...CALENDAR_ERRORS },
      },
    },
    '/calendar/v2/open_api/2022-07-07': {
      get: {
        tags: ['Reference'],
        summary: 'This document',
        operationId: 'getOpenApiDocument',
        security: [],
        responses: { '200': json({ type: 'object' }, 'OpenAPI 3.1', 'application/json') },
      },
    },
    '/healthz': {
      get: {
        tags: ['Operations'],
        summary: 'The process answers',
        description: 'Always 200 while the process runs. No credentials; not counted against any limit; not logged.',
        operationId: 'healthz',
        security: [],
        responses: { '200': json({ type: 'object', required: ['status'], properties: { status: { const: 'alive' } } }, 'Alive', 'application/json') },
      },
    },
    '/metrics': {
      get: {
        tags: ['Operations'],
        summary: "This process's figures in Prometheus' text format",
        description:
          'Requests by route template and status with their latency, database pools, 503s while the database was away, rate-limit refusals, failed authentications, cache hits and misses, event streams open, and the process\'s own. Open on a loopback bind; with METRICS_TOKEN set, only with it as a bearer token; beyond loopback without one, 403.',
        operationId: 'metrics',
        security: [{}, { metricsToken: [] }],
        responses: {
          '200': { description: 'The metrics', content: { 'text/plain': { schema: { type: 'string' } } } },
          '401': response('Unauthorized'),
          '403': { description: 'Served beyond loopback only with METRICS_TOKEN set', content: { 'application/json': { schema: ref('ErrorDocument') } } },
        },
      },
    },
    '/readyz': {
      get: {
        tags: ['Operations'],
        summary: 'The server can serve: the database answers and its schema is current',
        description: 'No credentials; not counted against any limit; not logged. 503 `database_unavailable` or `migrations_pending` otherwise.',
        operationId: 'readyz',
        security: [],
        responses: {
          '200': json({ type: 'object', required: ['status'], properties: { status: { const: 'ready' } } }, 'Ready', 'application/json'),
          '503': response('Unavailable'),
        },
      },
    },
    '/openapi.json': {
      get: { tags: ['Reference'], summary: 'This document', operationId: 'getOpenApiJson', security: [], responses: { '200': json({ type: 'object' }, 'OpenAPI 3.1', 'application/json') } },
    },
    '/jobs/v1/job_statuses': {
      post: jobsOperation('Create a job', 'createJob', { parameters: [parameter('IdempotencyKey')], requestBody: body('JobCreate', { data: { type: 'JobStatus', attributes: { kind: 'import', total: 10, message: 'Waiting for a worker' } } }), responses: { '422': response('Unprocessable') } }, '201'),
    },
    '/jobs/v1/job_statuses/{id}': {
      ...idPath,
      get: jobsOperation('Read a job, with every attribute and its results', 'getJob'),
      patch: jobsOperation('Change a job (not its status)', 'updateJob', { parameters: [parameter('IdempotencyKey')], responses: { '422': response('Unprocessable') }, requestBody: body('JobUpdate', { data: { type: 'JobStatus', attributes: { message: 'Halfway there' } } }) }),
    },
    '/jobs/v1/job_statuses/{id}/progress': {
      ...idPath,
      post: jobsOperation('Add to progress; concurrent reports add up', 'reportProgress', { parameters: [parameter('IdempotencyKey')], requestBody: body('ProgressReport', { data: { attributes: { increment: 1, message: 'Finished a task' } } }), responses: { '409': response('Conflict'), '422': response('Unprocessable') } }),
    },
    '/jobs/v1/job_statuses/{id}/results': {
      ...idPath,
      get: {
        tags: ['Jobs'],
        summary: "Page through a job's results",
        description: 'In the order they were appended, `per_page` (1–100, default 25) at a time from `offset`.',
        operationId: 'listResults',
        security: JOBS_SECURITY,
        parameters: [parameter('PerPage'), parameter('Offset')],
        responses: {
          '200': json(ref('JobStatusResultListDocument'), 'One page of results'),
          '400': response('BadRequest'),
          '401': response('Unauthorized'),
          '404': response('NotFound'),
          '429': response('TooManyRequests'),
        },
      },
      post: jobsOperation('Append task results', 'appendResults', {
        parameters: [parameter('IdempotencyKey')],
        requestBody: body('ResultsAppend', { data: [{ id: 1, action: 'create', success: true, status: 'Created', title: 'Task 1' }] }),
        responses: { '409': response('Conflict'), '422': response('Unprocessable') },
      }),
    },
    '/jobs/v1/job_statuses/{id}/transitions': {
      ...idPath,
      post: jobsOperation('Move the job through its lifecycle', 'transitionJob', { parameters: [parameter('IdempotencyKey')], requestBody: body('Transition', { data: { attributes: { status: 'working' } } }), responses: { '409': response('Conflict'), '422': response('Unprocessable') } }),
    },
    '/jobs/v1/job_statuses/{id}/events': {
      ...idPath,
      get: {
        tags: ['Jobs'],
        summary: 'Watch a job (Server-Sent Events)',
        description: 'Sends the job at once (`event: job_status`), then after every change, and ends when the job does.',
        operationId: 'watchJob',
        security: JOBS_SECURITY,
        responses: {
          '200': { description: 'A stream of job_status events, each carrying a JobDocument', content: { 'text/event-stream': { schema: { type: 'string' } } } },
          '401': response('Unauthorized'),
          '404': response('NotFound'),
        },
      },
    },
    '/oauth/authorize': {
      get: {
        tags: ['OAuth'],
        summary: 'The sign-in and consent page',
        operationId: 'authorize',
        security: [],
        parameters: ['client_id', 'redirect_uri', 'response_type', 'scope', 'state', 'code_challenge', 'code_challenge_method'].map((name) => ({
          name,
          in: 'query',
          required: name === 'client_id' || name === 'response_type',
          schema: { type: 'string' },
        })),
        responses: {
          '200': { description: 'The page', content: { 'text/html': { schema: { type: 'string' } } } },
          '302': { description: 'Back to the redirect_uri with an error' },
          '400': { description: 'Unknown client or redirect_uri: an error page, never a redirect', content: { 'text/html': { schema: { type: 'string' } } } },
        },
      },
    },
    '/oauth/token': {
      post: {
        tags: ['OAuth'],
        summary: 'Exchange a code, or a refresh token, for tokens',
        operationId: 'token',
        security: [],
        requestBody: {
          required: true,
          content: {
            'application/x-www-form-urlencoded': {
              schema: {
                type: 'object',
                required: ['grant_type'],
                properties: {
                  grant_type: { type: 'string', enum: ['authorization_code', 'refresh_token'] },
                  code: { type: 'string' },
                  redirect_uri: { type: 'string' },
                  code_verifier: { type: 'string' },
                  refresh_token: { type: 'string' },
                  client_id: { type: 'string' },
                  client_secret: { type: 'string' },
                },
              },
            },
          },
        },
        responses: {
          '200': json(ref('TokenResponse'), "Planning Center's token response", 'application/json'),
          '400': json(ref('OAuthError'), 'invalid_request, invalid_grant, unsupported_grant_type', 'application/json'),
          '401': json(ref('OAuthError'), 'invalid_client', 'application/json'),
          '429': json(ref('OAuthError'), 'slow_down: too many failures from this address', 'application/json'),
        },
      },
    },
    '/oauth/revoke': {
      post: {
        tags: ['OAuth'],
        summary: 'Revoke an access or refresh token (RFC 7009)',
        operationId: 'revoke',
        security: [],
        requestBody: {
          required: true,
          content: {
            'application/x-www-form-urlencoded': {
              schema: { type: 'object', required: ['token'], properties: { token: { type: 'string' }, client_id: { type: 'string' }, client_secret: { type: 'string' } } },
            },
          },
        },
        responses: {
          '200': json({ type: 'object' }, 'Revoked, or nothing to revoke', 'application/json'),
          '400': json(ref('OAuthError'), 'No token', 'application/json'),
          '401': json(ref('OAuthError'), 'invalid_client', 'application/json'),
        },
      },
    },
    '/api/v2/job_statuses.json': {
      get: {
        tags: ['Zendesk'],
        summary: "Zendesk: the organization's job statuses, newest first",
        operationId: 'zendeskListJobStatuses',
        security: [{ zendeskBasic: [] }, { oauth2: ['calendar'] }],
        parameters: [
          { name: 'page', in: 'query', schema: { type: 'integer', minimum: 1, default: 1 } },
          { name: 'per_page', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 100, default: 100 } },
        ],
        responses: {
          '200': json(
            {
              type: 'object',
              required: ['job_statuses', 'next_page', 'previous_page', 'count'],
              properties: {
                job_statuses: { type: 'array', items: ref('ZendeskJobStatus') },
                next_page: nullable('string', { pattern: '^https?://' }),
                previous_page: nullable('string', { pattern: '^https?://' }),
                count: { type: 'integer' },
              },
            },
            'One page',
            'application/json',
          ),
          ...zendeskErrors(),
        },
      },
    },
    '/api/v2/job_statuses/show_many.json': {
      get: {
        tags: ['Zendesk'],
        summary: 'Zendesk: several job statuses, in the order asked',
        operationId: 'zendeskShowMany',
        security: [{ zendeskBasic: [] }, { oauth2: ['calendar'] }],
        parameters: [{ name: 'ids', in: 'query', required: true, description: '1 to 100 ids, separated by commas', schema: { type: 'string' } }],
        responses: {
          '200': json({ type: 'object', required: ['job_statuses'], properties: { job_statuses: { type: 'array', items: ref('ZendeskJobStatus') } } }, 'Those found', 'application/json'),
          ...zendeskErrors(),
        },
      },
    },
    '/api/v2/job_statuses/{id}.json': {
      ...idPath,
      get: {
        tags: ['Zendesk'],
        summary: 'Zendesk: one job status',
        operationId: 'zendeskShowJobStatus',
        security: [{ zendeskBasic: [] }, { oauth2: ['calendar'] }],
        responses: {
          '200': json({ type: 'object', required: ['job_status'], properties: { job_status: ref('ZendeskJobStatus') } }, 'The job status', 'application/json'),
          ...zendeskErrors(),
        },
      },
    },
    '/{account_id}/api/jobs': {
      parameters: [{ name: 'account_id', in: 'path', required: true, description: "The caller's organization id", schema: ID }],
      get: {
        tags: ['Xplenty'],
        summary: 'Xplenty: the organization’s jobs, newest first',
        operationId: 'xplentyListJobs',
        security: [{ xplentyApiKey: [] }, { oauth2: ['calendar'] }],
        parameters: [
          { name: 'offset', in: 'query', schema: { type: 'integer', minimum: 0, default: 0 } },
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 100, default: 20 } },
        ],
        responses: { '200': json({ type: 'array', items: ref('XplentyJob') }, 'One page', 'application/vnd.xplenty+json; version=2'), ...xplentyErrors() },
      },
    },
    '/{account_id}/api/jobs/{job_id}': {
      parameters: [
        { name: 'account_id', in: 'path', required: true, description: "The caller's organization id", schema: ID },
        { name: 'job_id', in: 'path', required: true, schema: ID },
      ],
      get: {
        tags: ['Xplenty'],
        summary: 'Xplenty: one job',
        operationId: 'xplentyShowJob',
        security: [{ xplentyApiKey: [] }, { oauth2: ['calendar'] }],
        responses: { '200': json(ref('XplentyJob'), 'The job', 'application/vnd.xplenty+json; version=2'), ...xplentyErrors() },
      },
    },
  }
}

function zendeskErrors() {
  const error = (description: string) => json(ref('ZendeskError'), description, 'application/json')
  return { '400': error('A bad parameter'), '401': error("Couldn't authenticate you"), '404': error('RecordNotFound'), '429': error('TooManyRequests') }
}

function xplentyErrors() {
  const error = (description: string) => json(ref('XplentyError'), description, 'application/vnd.xplenty+json; version=2')
  return { '400': error('A bad parameter'), '401': error('Unauthorized'), '404': error('Resource not found'), '406': error('The Accept header excludes the media type'), '429': error('Too many requests') }
}

/** The document, with this server's own base URL; built once per base URL by the route. */
export function openApiDocument(baseUrl: string) {
  return {
    openapi: '3.1.0',
    info: {
      title: 'Planning Center Calendar API: JobStatus',
      version: DEFAULT_VERSION,
      summary: "Planning Center's Calendar JobStatus endpoints, a job-status write API, and the Zendesk and Xplenty dialects",
      description:
        "Every answer is scoped to the caller's Organization. Responses carry `X-PCO-API-Request-Rate-*` headers; the limit is per person. Errors use the JSON:API envelope `{\"errors\":[…]}`.",
      license: { name: 'MIT', identifier: 'MIT' },
    },
    servers: [{ url: baseUrl }],
    tags: [
      { name: 'Calendar', description: "Planning Center's Calendar API, version 2022-07-07" },
      { name: 'Jobs', description: 'Create a job, report progress and results, move it, watch it' },
      { name: 'OAuth', description: 'OAuth 2 authorization code flow with refresh-token rotation' },
      { name: 'Zendesk', description: "Zendesk's job_statuses over the same store" },
      { name: 'Xplenty', description: "Xplenty's jobs over the same store" },
      { name: 'Webhooks', description: "Planning Center's Webhooks API, version 2022-10-20: subscriptions to job-status events, their events and deliveries" },
      { name: 'Reference', description: 'This document' },
      { name: 'Operations', description: 'Health checks for load balancers and orchestrators' },
    ],
    security: CALENDAR_SECURITY,
    paths: paths(),
    components: components(baseUrl),
  }
}

export type OpenApiDocument = ReturnType<typeof openApiDocument>
