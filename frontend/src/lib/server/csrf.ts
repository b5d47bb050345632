import { timingSafeEqual } from 'node:crypto'
import type { NextRequest } from 'next/server'
import { errorResponse } from './api'
import { configuredOrigin } from './config'
import { cookieNames } from './cookies'

export const CSRF_HEADER = 'x-csrf-token'

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

/** The origin this request was addressed to, as the browser saw it. */
export function expectedOrigin(request: NextRequest): string {
  const fixed = configuredOrigin()
  if (fixed) return fixed
  const host = request.headers.get('x-forwarded-host') ?? request.headers.get('host')
  const proto =
    request.headers.get('x-forwarded-proto')?.split(',')[0]?.trim() ??
    request.nextUrl.protocol.replace(/:$/, '')
  return `${proto}://${host ?? request.nextUrl.host}`
}

function sameToken(a: string, b: string): boolean {
  const left = Buffer.from(a)
  const right = Buffer.from(b)
  return left.length === right.length && timingSafeEqual(left, right)
}

/**
 * Guard for every state-changing BFF call: the Origin must be ours and the X-CSRF-Token
 * header must echo the CSRF cookie (double submit). Returns the refusal, or null when allowed.
 */
export function refuseCrossSite(request: NextRequest): Response | null {
  if (SAFE_METHODS.has(request.method)) return null
  const origin = request.headers.get('origin')
  if (!origin || origin !== expectedOrigin(request)) {
    return errorResponse(403, 'origin_mismatch', 'Request origin is not allowed.')
  }
  const cookie = request.cookies.get(cookieNames.csrf)?.value
  const header = request.headers.get(CSRF_HEADER)
  if (!cookie || !header || !sameToken(cookie, header)) {
    return errorResponse(403, 'csrf_failed', 'Missing or invalid CSRF token.')
  }
  return null
}
