/**
 * The Protector playground: GraphiQL 5 with the saved operations of a DR drill, served by the gateway
 * with no internet access (Monaco's workers and the fonts are in the bundle).
 */
import 'graphiql/setup-workers/vite';
import 'graphiql/style.css';
import './playground.css';
import { createLocalStorage } from '@graphiql/toolkit';
import { GraphiQL } from 'graphiql';
import { createElement, StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { exampleTabs } from '../../src/playground/examples.js';
import { headersEditorText } from '../../src/playground/headers.js';
import { createProtectorFetcher, socketUrlFor } from './fetcher.js';

/** What the gateway injects (see `PlaygroundConfig` in gateway/src/playground/index.ts). */
interface InjectedConfig {
  title?: string;
  graphqlPath?: string;
  siteKeys?: string[];
  headersText?: string;
  tabs?: { query: string; variables?: string; headers?: string }[];
  storageNamespace?: string;
}

declare global {
  interface Window {
    __PROTECTOR__?: InjectedConfig;
    /** The tabs as GraphiQL last reported them (the browser tests read responses from it). */
    __PROTECTOR_TABS__?: unknown;
  }
}

const injected: InjectedConfig = window.__PROTECTOR__ ?? {};
const siteKeys = injected.siteKeys ?? [];
const graphqlPath = injected.graphqlPath ?? '/graphql';
const headersText = injected.headersText ?? headersEditorText(siteKeys);
const tabs = injected.tabs ?? exampleTabs({ siteKeys, headers: headersText });
if (injected.title) document.title = injected.title;

const fetcher = createProtectorFetcher({
  url: new URL(graphqlPath, window.location.href).toString(),
  subscriptionUrl: socketUrlFor(graphqlPath, window.location.href),
});

const root = document.getElementById('root');
if (!root) throw new Error('The playground page has no #root element.');

createRoot(root).render(
  createElement(
    StrictMode,
    null,
    createElement(
      GraphiQL,
      {
        fetcher,
        defaultTabs: tabs.map((t) => ({
          query: t.query,
          variables: t.variables ?? null,
          headers: t.headers ?? null,
        })),
        defaultHeaders: headersText,
        defaultEditorToolsVisibility: true,
        // Tokens stay in this page only unless the user turns persistence on in the settings.
        shouldPersistHeaders: false,
        storage: createLocalStorage({ namespace: injected.storageNamespace ?? 'protector' }),
        onTabChange: (state: unknown) => {
          window.__PROTECTOR_TABS__ = state;
        },
      },
      createElement(GraphiQL.Logo, null, 'Protector'),
    ),
  ),
);
