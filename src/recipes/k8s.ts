/**
 * Kubernetes: Isogate itself behind ingress-nginx (Deployment, Service, Ingress). The gateway
 * sends the header plan on every reply, so the ingress sets no header at all: one mechanism
 * only (B23: ingress-nginx drops or duplicates headers when annotation CORS, snippets and an
 * `add-headers` ConfigMap are mixed). The plan's headers are listed as comments for review.
 * Pure.
 */
import { RESPONSE_CLASSES } from '../policy/plan.js'
import { classRules, publicOrigin, type RecipeContext, type RecipeOutput } from './model.js'

const js = (value: string) => JSON.stringify(value)

/** The plan as YAML comments: what the gateway sends, so nobody adds it at the ingress. */
function planComments(ctx: RecipeContext): string[] {
  const lines = ['# What the gateway sends (the Isogate header plan); the ingress adds none:']
  for (const cls of RESPONSE_CLASSES) {
    const rules = classRules(ctx, cls)
    if (rules.length === 0) continue
    lines.push(`#   ${cls}:`)
    for (const rule of rules) {
      const ok = typeof rule.ok === 'string' ? rule.ok : 'by content hash'
      const value = rule.ok === rule.error ? ok : `${ok ?? '-'} | on errors: ${rule.error ?? '-'}`
      lines.push(`#     ${rule.name}: ${value}  (${rule.why})`)
    }
  }
  return lines
}

/** `isogate recipe k8s-ingress-nginx`. */
export function renderK8sIngressNginx(ctx: RecipeContext): RecipeOutput {
  const base = ctx.basePath
  const host = ctx.serverName
  const tls = ctx.tls !== undefined
  const origin = tls ? `https://${host}` : publicOrigin(ctx)
  const args = [
    'serve',
    '--host',
    '0.0.0.0',
    '--port',
    '8080',
    '--public-url',
    `${origin}${base}`,
    '--isolation',
    ctx.plan.intent.isolation,
    ...(base !== '/' ? ['--base-path', base] : []),
    ...(ctx.upstreamRoot ? ['--source', `pacs=${ctx.upstreamRoot}`] : []),
  ]
  const yaml = [
    '# Rendered by `isogate recipe k8s-ingress-nginx` from the Isogate header plan',
    `# (isolation: ${ctx.plan.intent.isolation}). kubectl apply -f isogate-k8s.yaml`,
    ...planComments(ctx),
    'apiVersion: apps/v1',
    'kind: Deployment',
    'metadata:',
    '  name: isogate',
    '  labels: { app.kubernetes.io/name: isogate }',
    'spec:',
    '  # Stateless: replicas scale out behind the Service.',
    '  replicas: 2',
    '  selector:',
    '    matchLabels: { app.kubernetes.io/name: isogate }',
    '  template:',
    '    metadata:',
    '      labels: { app.kubernetes.io/name: isogate }',
    '    spec:',
    '      containers:',
    '        - name: isogate',
    '          # An image with Node 20 and `npm install -g isogate`; see docs/recipes.md.',
    '          image: isogate:0.1.0',
    `          args: [${args.map(js).join(', ')}]`,
    '          ports:',
    '            - { name: http, containerPort: 8080 }',
    '          # Ready once every data source has answered; live while the process answers.',
    '          readinessProbe:',
    `            httpGet: { path: ${js(`${base}__isogate/readyz`)}, port: http }`,
    '            periodSeconds: 5',
    '          livenessProbe:',
    `            httpGet: { path: ${js(`${base}__isogate/healthz`)}, port: http }`,
    '            periodSeconds: 10',
    '---',
    'apiVersion: v1',
    'kind: Service',
    'metadata:',
    '  name: isogate',
    'spec:',
    '  selector: { app.kubernetes.io/name: isogate }',
    '  ports:',
    '    - { name: http, port: 80, targetPort: http }',
    '---',
    'apiVersion: networking.k8s.io/v1',
    'kind: Ingress',
    'metadata:',
    '  name: isogate',
    '  annotations:',
    '    # Frames and bulk data stream through; buffering whole studies helps nobody.',
    '    nginx.ingress.kubernetes.io/proxy-buffering: "off"',
    '    # Series retrieval can be slow on a cold PACS.',
    '    nginx.ingress.kubernetes.io/proxy-read-timeout: "300"',
    '    # No enable-cors, configuration-snippet or add-headers here: one mechanism (B23).',
    'spec:',
    '  ingressClassName: nginx',
    ...(tls
      ? [
          '  # Isolation needs a secure context: https off loopback (B01).',
          '  tls:',
          `    - hosts: [${js(host)}]`,
          '      secretName: isogate-tls',
        ]
      : []),
    '  rules:',
    `    - host: ${js(host)}`,
    '      http:',
    '        paths:',
    `          - path: ${js(base)}`,
    '            pathType: Prefix',
    '            backend:',
    '              service: { name: isogate, port: { name: http } }',
    '',
  ]
  return {
    target: 'k8s-ingress-nginx',
    files: [{ path: 'isogate-k8s.yaml', content: yaml.join('\n') }],
    notes: [
      'The ingress adds no headers: Isogate sends the plan itself. Remove any add-headers ' +
        'ConfigMap entry or snippet that sets COOP/COEP/CORP/CORS for this host.',
      ...(tls
        ? ['Create the TLS secret first: kubectl create secret tls isogate-tls --cert --key.']
        : ['Without --cert/--key the Ingress has no TLS: isolation needs https off loopback.']),
    ],
  }
}
