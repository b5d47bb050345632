import type { ReactNode } from 'react'

/**
 * A wide table's horizontal scroll area. Keyboard users scroll it with the arrow keys once it
 * has focus, so it takes a Tab stop and a name (axe: scrollable-region-focusable).
 */
export function ScrollRegion({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div className="table-wrap" role="region" aria-label={label} tabIndex={0}>
      {children}
    </div>
  )
}
