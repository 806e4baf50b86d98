package explorer

// Browser starts the headless Chromium of the browser tests for the
// external test package (trust_browser_test.go), which runs a whole
// devnet and so cannot live in this package (devnet imports explorer).
var Browser = browser
