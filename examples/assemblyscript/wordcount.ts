// Word count + upper-case transform: {"text": "hello wasm world"} -> {"words": 3, "upper": "HELLO WASM WORLD"}
import { readInput, writeOutput, log, Json, JsonObject } from "nil";

function countWords(text: string): i32 {
  let words = 0;
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const space = c == 0x20 || c == 0x09 || c == 0x0a || c == 0x0d;
    if (!space && !inWord) words++;
    inWord = !space;
  }
  return words;
}

const input = Json.parse(readInput());
if (!input.isObject()) {
  log("input is not a JSON object");
  writeOutput(new JsonObject().str("error", "expected a JSON object like {\"text\": \"...\"}").toString());
} else {
  const text = input.getString("text");
  const words = countWords(text);
  log("counted " + words.toString() + " words");
  writeOutput(new JsonObject().num("words", words).str("upper", text.toUpperCase()).toString());
}
