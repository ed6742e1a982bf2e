/* Word count + upper-case transform: {"text": "hello wasm world"} -> {"words": 3, "upper": "HELLO WASM WORLD"} */
#include <ctype.h>
#include <nil.h>

int main(void) {
  size_t len;
  char* input = nil_read_input(&len);
  if (!input) return 1;
  long n = nil_json_get_string(input, "text", NULL, 0);
  if (n < 0) {
    nil_log("input has no \"text\" string");
    const char* err = "{\"error\":\"expected a JSON object like {\\\"text\\\": \\\"...\\\"}\"}";
    nil_write_output(err, strlen(err));
    free(input);
    return 0;
  }
  char* text = (char*)malloc((size_t)n + 1);
  nil_json_get_string(input, "text", text, (size_t)n + 1);

  int words = 0, in_word = 0;
  for (long i = 0; i < n; i++) {
    int space = isspace((unsigned char)text[i]);
    if (!space && !in_word) words++;
    in_word = !space;
    text[i] = (char)toupper((unsigned char)text[i]);
  }
  nil_log("counted %d words", words);

  nil_jw w;
  nil_jw_init(&w);
  nil_jw_begin_object(&w);
  nil_jw_key(&w, "words");
  nil_jw_number(&w, words);
  nil_jw_key(&w, "upper");
  nil_jw_string_n(&w, text, (size_t)n);
  nil_jw_end_object(&w);
  nil_write_output(w.data, w.len);
  nil_jw_free(&w);
  free(text);
  free(input);
  return 0;
}
