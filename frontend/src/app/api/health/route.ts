import { APP_VERSION } from '@/lib/server/config'

// Liveness of the frontend process itself (Docker HEALTHCHECK, compose); no API call here.
export const dynamic = 'force-dynamic'

export function GET(): Response {
  return Response.json(
    {
      status: 'healthy',
      service: 'koiki-frontend',
      version: APP_VERSION,
      timestamp: new Date().toISOString(),
    },
    { headers: { 'cache-control': 'no-store' } },
  )
}
