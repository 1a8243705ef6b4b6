/// <reference types="vite/client" />

// tsc cannot read single-file components; Vite compiles them. Type-checking the
// templates needs vue-tsc (not installed yet).
declare module '*.vue' {
  import type { DefineComponent } from 'vue';
  const component: DefineComponent<object, object, unknown>;
  export default component;
}
