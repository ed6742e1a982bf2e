(module ;; (@ in a line comment
  (; (@ in a (; nested ;) block comment ;)
  (memory (export "memory") 1)
  (data (i32.const 0) "(@ \"(@\" in a string")
  (func (export "run") (result i32) i32.const 0))
