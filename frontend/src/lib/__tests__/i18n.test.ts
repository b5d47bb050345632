import { describe, expect, it } from 'vitest'
import { format, negotiateLocale } from '@/i18n'
import { en } from '@/i18n/en'
import { ja } from '@/i18n/ja'

type Tree = { [key: string]: string | Tree }

function flatten(tree: Tree, prefix = ''): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [key, value] of Object.entries(tree)) {
    if (typeof value === 'string') out[`${prefix}${key}`] = value
    else Object.assign(out, flatten(value, `${prefix}${key}.`))
  }
  return out
}

const placeholders = (text: string) => [...text.matchAll(/\{(\w+)\}/g)].map((match) => match[1]).sort()

describe('translations', () => {
  const jaFlat = flatten(ja as unknown as Tree)
  const enFlat = flatten(en as unknown as Tree)

  it('have the same keys in both languages', () => {
    expect(Object.keys(enFlat).sort()).toEqual(Object.keys(jaFlat).sort())
  })

  it('have no empty strings and the same placeholders', () => {
    for (const [key, text] of Object.entries(jaFlat)) {
      expect(text.trim(), key).not.toBe('')
      expect(placeholders(enFlat[key] ?? ''), key).toEqual(placeholders(text))
    }
  })

  it('fill placeholders', () => {
    expect(format(en.common.pageInfo, { from: 1, to: 10, total: 42 })).toBe('1–10 of 42')
    expect(format('{a} {missing}', { a: 1 })).toBe('1 {missing}')
  })
})

describe('negotiateLocale', () => {
  it('picks the first of our languages the browser asks for', () => {
    expect(negotiateLocale('en-US,en;q=0.9')).toBe('en')
    expect(negotiateLocale('ja-JP,ja;q=0.9,en;q=0.8')).toBe('ja')
    expect(negotiateLocale('fr-FR,fr;q=0.9,en;q=0.5,ja;q=0.7')).toBe('ja')
  })

  it('gives no answer for languages we lack, refused ones or no header', () => {
    expect(negotiateLocale('fr-FR,de;q=0.8')).toBeNull()
    expect(negotiateLocale('en;q=0')).toBeNull()
    expect(negotiateLocale('')).toBeNull()
    expect(negotiateLocale(null)).toBeNull()
  })
})
